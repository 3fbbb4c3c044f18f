"""The results page served at ``GET /``: a search box, ranked results with the query terms marked,
each stage's score and rank per document (where a later stage moved it from), and stage timings.

One self-contained HTML document (no external scripts, fonts or styles). Texts are inserted as text
nodes, never as HTML, so document contents cannot inject markup.
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>regard search</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #23395d; color: #fff; padding: 14px 24px; }
  header h1 { margin: 0; font-size: 20px; }
  header .pipeline { font-family: monospace; font-size: 13px; opacity: .85; }
  main { max-width: 1100px; margin: 0 auto; padding: 16px 24px; }
  form { display: flex; gap: 8px; margin-bottom: 12px; }
  #q { flex: 1; font-size: 17px; padding: 8px 10px; border: 1px solid #9aa5b8; border-radius: 4px; }
  button { font-size: 16px; padding: 8px 18px; background: #2f6fde; color: #fff; border: 0; border-radius: 4px; }
  select { font-size: 15px; }
  #status { color: #556; margin: 6px 0 10px; min-height: 1.2em; }
  #status.error { color: #b00020; font-weight: 600; }
  #timings { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 12px; }
  .timing { background: #dfe8fb; border-left: 6px solid #2f6fde; padding: 3px 8px; font-size: 13px; }
  .result { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 10px 14px; margin-bottom: 10px; }
  .result h2 { font-size: 16px; margin: 0 0 4px; }
  .rank { display: inline-block; min-width: 2em; color: #2f6fde; }
  .docid { font-family: monospace; font-size: 12px; color: #667; margin-left: 6px; }
  .snippet { margin: 4px 0 8px; line-height: 1.45; }
  mark { background: #ffe066; padding: 0 1px; }
  table.stages { border-collapse: collapse; font-size: 13px; }
  table.stages th, table.stages td { border: 1px solid #dde1e8; padding: 2px 8px; text-align: right; }
  table.stages th { background: #eef1f6; text-align: left; }
  .up { color: #138a36; font-weight: 600; }
  .down { color: #c0392b; font-weight: 600; }
  .absent { color: #999; }
</style>
</head>
<body>
<header><h1>regard search</h1><div class="pipeline" id="pipeline"></div></header>
<main>
  <form id="search-form">
    <input id="q" name="q" type="search" placeholder="Search the corpus" autocomplete="off" autofocus>
    <select id="k" name="k"><option>5</option><option selected>10</option><option>20</option><option>50</option></select>
    <button type="submit">Search</button>
  </form>
  <div id="status"></div>
  <div id="timings"></div>
  <div id="results"></div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function stem(term) {
  for (const suffix of ["ing", "es", "ed", "s"]) {
    if (term.endsWith(suffix) && term.length - suffix.length >= 3) return term.slice(0, -suffix.length);
  }
  return term;
}

// Words that start with a query term's stem are marked (the same rule as the server's snippets).
function highlighted(text, terms) {
  const fragment = document.createDocumentFragment();
  const stems = [...new Set(terms.map(stem))].sort((a, b) => b.length - a.length);
  if (!stems.length || !text) { fragment.append(text || ""); return fragment; }
  const escaped = stems.map((s) => s.replace(/[.*+?^${}()|[\\]\\\\]/g, "\\\\$&"));
  const pattern = new RegExp("(?<![\\\\p{L}\\\\p{N}_])(?:" + escaped.join("|") + ")[\\\\p{L}\\\\p{N}_]*", "giu");
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    fragment.append(text.slice(last, match.index));
    fragment.append(element("mark", null, match[0]));
    last = match.index + match[0].length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

function score(value) { return value === null || value === undefined ? "—" : Number(value).toFixed(4); }

function stageTable(result, stages, finalRank) {
  const table = element("table", "stages");
  const head = table.insertRow();
  head.append(element("th", null, "stage"), element("th", null, "score"), element("th", null, "rank"), element("th", null, "move"));
  let previous = null;
  for (const stage of stages) {
    const name = stage.name;
    const rank = result.ranks[name];
    const row = table.insertRow();
    row.className = "stage-row";
    row.append(element("th", null, name));
    row.append(element("td", rank === null ? "absent" : null, score(result.stages[name])));
    row.append(element("td", rank === null ? "absent" : null, rank === null ? "not returned" : String(rank)));
    const move = element("td");
    if (previous !== null && rank !== null && previous !== rank) {
      move.className = rank < previous ? "up" : "down";
      move.textContent = (rank < previous ? "▲ " : "▼ ") + previous + " → " + rank;
    }
    row.append(move);
    if (rank !== null) previous = rank;
  }
  return table;
}

function render(answer) {
  const timings = $("timings");
  timings.replaceChildren();
  for (const stage of answer.stages) timings.append(element("span", "timing", stage.name + ": " + stage.ms.toFixed(1) + " ms"));
  timings.append(element("span", "timing", "total: " + answer.took_ms.toFixed(1) + " ms (batch of " + answer.batch_size + ")"));
  const list = $("results");
  list.replaceChildren();
  for (const result of answer.results) {
    const card = element("div", "result");
    card.dataset.docid = result.docid;
    const title = element("h2");
    title.append(element("span", "rank", String(result.rank) + "."));
    title.append(highlighted(result.title || "(untitled)", answer.terms));
    const link = element("a", "docid", result.docid);
    link.href = "documents/" + encodeURIComponent(result.docid);
    title.append(link);
    const text = element("div", "snippet");
    text.append(highlighted(result.text, answer.terms));
    card.append(title, text, stageTable(result, answer.stages, result.rank));
    list.append(card);
  }
  $("status").className = "";
  $("status").textContent = answer.results.length + " results for “" + answer.query + "”";
  document.body.dataset.state = "done";
}

async function search(query, k) {
  $("status").className = "";
  $("status").textContent = "searching…";
  document.body.dataset.state = "searching";
  try {
    const response = await fetch("search", {method: "POST", headers: {"Content-Type": "application/json"},
                                            body: JSON.stringify({query: query, k: k})});
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || ("HTTP " + response.status));
    render(answer);
  } catch (err) {
    $("results").replaceChildren();
    $("timings").replaceChildren();
    $("status").className = "error";
    $("status").textContent = "error: " + err.message;
    document.body.dataset.state = "error";
  }
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = $("q").value, k = Number($("k").value);
  history.replaceState(null, "", "?q=" + encodeURIComponent(query) + "&k=" + k);
  search(query, k);
});

fetch("info").then((r) => r.json()).then((info) => { $("pipeline").textContent = info.pipeline; }).catch(() => {});
const initial = new URLSearchParams(location.search);
if (initial.get("q")) {
  $("q").value = initial.get("q");
  if (initial.get("k")) $("k").value = initial.get("k");
  search(initial.get("q"), Number($("k").value));
}
</script>
</body>
</html>
"""
