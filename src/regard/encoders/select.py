"""Which single-vector encoder class serves a model name: M2-BERT checkpoints or sentence-transformers."""

from __future__ import annotations


def dense_encoder(model: str, **options):
    """An `M2BertEncoder` for M2-BERT checkpoints (by config or hub name), else a `DenseEncoder`.

    ``options`` are the shared keyword arguments (device, precision, batch_size, max_length,
    normalize, query_prefix, document_prefix, runtime).
    """
    from regard.encoders.m2bert.loading import is_m2bert_checkpoint

    if is_m2bert_checkpoint(model):
        from regard.encoders.m2bert import M2BertEncoder

        if options.pop("runtime", "auto") == "onnx" or options.get("precision") == "int8":
            raise ValueError("M2-BERT encoders run on torch only (runtime 'onnx' and precision int8 are for "
                             "sentence-transformers models)")
        return M2BertEncoder(model, **options)
    from regard.encoders.dense import DenseEncoder

    return DenseEncoder(model, **options)
