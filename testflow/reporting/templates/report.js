/* testflow report: draws the embedded run data. No dependencies, no network. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("tf-data").textContent);
  var ROW = 26, OVERSCAN = 12;
  var STATUSES = ["passed", "failed", "error", "skipped", "cancelled"];
  var COLORS = {passed: "#1a7f37", failed: "#cf222e", error: "#9a3412", skipped: "#8c959f", cancelled: "#6e56cf", running: "#0969da"};
  var state = {status: null, q: "", collapsed: {}, sel: null};
  var rows = [];

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "html") e.innerHTML = attrs[k];
      else if (k === "style") e.style.cssText = attrs[k];
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
  function fmtMs(ms) {
    if (ms == null) return "";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
    return Math.floor(ms / 60000) + " m " + Math.round((ms % 60000) / 1000) + " s";
  }
  function badge(s) { return el("span", {"class": "badge st-" + s, text: s}); }
  function dot(s) { return el("span", {"class": "dot", style: "background:" + (COLORS[s] || "#999")}); }

  /* JSON with syntax highlighting; strings are escaped before any markup is added. */
  function pretty(v) { return typeof v === "string" ? v : JSON.stringify(v, sortKeys, 2); }
  function sortKeys(k, v) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      var o = {}; Object.keys(v).sort().forEach(function (key) { o[key] = v[key]; }); return o;
    }
    return v;
  }
  function highlight(v) {
    var text = esc(pretty(v));
    if (typeof v === "string") return text;
    return text.replace(/(&quot;(?:\\.|[^&\\]|&(?!quot;))*&quot;)(\s*:)?|\b(true|false)\b|\bnull\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, function (m, str, colon, bool) {
      if (str) return colon ? '<span class="j-k">' + str + "</span>" + colon : '<span class="j-s">' + str + "</span>";
      if (bool) return '<span class="j-b">' + m + "</span>";
      if (m === "null") return '<span class="j-z">null</span>';
      return '<span class="j-n">' + m + "</span>";
    });
  }
  function code(v) { return el("pre", {html: highlight(v)}); }

  /* Line diff (LCS) of two JSON values pretty-printed with sorted keys: JSON-aware enough
     that key order never shows up as a difference. */
  function lineDiff(a, b) {
    var x = pretty(a).split("\n"), y = pretty(b).split("\n");
    if (x.length * y.length > 250000) return null;
    var n = x.length, m = y.length, t = [];
    for (var i = 0; i <= n; i++) { t.push(new Array(m + 1).fill(0)); }
    for (i = n - 1; i >= 0; i--) for (var j = m - 1; j >= 0; j--)
      t[i][j] = x[i] === y[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
    var out = [], p = 0, q = 0;
    while (p < n || q < m) {
      if (p < n && q < m && x[p] === y[q]) { out.push("  " + x[p]); p++; q++; }
      else if (p < n && (q >= m || t[p + 1][q] >= t[p][q + 1])) { out.push("- " + x[p]); p++; }
      else { out.push("+ " + y[q]); q++; }
    }
    return out.join("\n");
  }
  function diffView(text) {
    var pre = el("pre", {"class": "diff"});
    text.split("\n").forEach(function (line) {
      var c = line[0] === "+" && line.slice(0, 3) !== "+++" ? "d-add" : line[0] === "-" && line.slice(0, 3) !== "---" ? "d-del" : "";
      pre.appendChild(el("span", {"class": c}, [line + "\n"]));
    });
    return pre;
  }

  /* ---- header ---- */
  function header() {
    $("run-status").className = "badge st-" + D.s; $("run-status").textContent = D.s;
    var c = D.c, s = $("summary");
    var total = STATUSES.reduce(function (a, k) { return a + (c[k] || 0); }, 0);
    [["flows", D.runs.length], ["steps", total], ["passed", c.passed], ["failed", c.failed], ["error", c.error], ["skipped", c.skipped + c.cancelled], ["duration", fmtMs(D.d)]]
      .forEach(function (p) { s.appendChild(el("div", {"class": "chip", "data-k": p[0]}, [el("b", {text: String(p[1])}), el("span", {text: p[0]})])); });
    var m = $("meta");
    [["started", D.at], ["environment", D.env], ["testflow", D.tool], ["git", D.sha && D.sha.slice(0, 12)], ["host", D.host]]
      .forEach(function (p) { if (p[1]) m.appendChild(el("span", {}, [p[0] + ": ", el("b", {text: p[1]})])); });
    var f = $("filters");
    [null].concat(STATUSES).forEach(function (st) {
      var b = el("button", {text: st || "all", "data-status": st || "all", onclick: function () { state.status = st; sync(); }});
      f.appendChild(b);
    });
    $("search").addEventListener("input", function (e) { state.q = e.target.value.toLowerCase(); rebuild(); });
    document.addEventListener("keydown", function (e) { if (e.key === "/" && document.activeElement !== $("search")) { e.preventDefault(); $("search").focus(); } });
  }
  function sync() {
    Array.prototype.forEach.call($("filters").children, function (b) { b.classList.toggle("on", (b.getAttribute("data-status") === (state.status || "all"))); });
    rebuild();
  }

  /* ---- history ---- */
  function history() {
    var h = D.history; if (!h) return;
    var sec = $("history"); sec.hidden = false;
    sec.appendChild(el("h2", {text: "History (" + h.runs + " earlier runs)"}));
    (h.flows || []).forEach(function (f) {
      var spark = el("span", {"class": "spark", title: "oldest → newest"});
      f.outcomes.forEach(function (o) { spark.appendChild(el("i", {style: "height:" + (o === "passed" ? 20 : 10) + "px;background:" + (COLORS[o] || "#999"), title: o})); });
      var kids = [el("b", {text: f.flow}), " ", spark, " pass rate " + Math.round(f.pass_rate * 100) + "%"];
      if (f.flaky) kids.push(el("span", {"class": "ko", text: " flaky: " + f.flaky_reason}));
      sec.appendChild(el("div", {"class": "hist-flow"}, kids));
    });
    if ((h.clusters || []).length) {
      sec.appendChild(el("h3", {text: "Failure clusters"}));
      var t = el("table", {}, [el("tr", {}, [el("th", {text: "count"}), el("th", {text: "signature"}), el("th", {text: "steps"})])]);
      h.clusters.forEach(function (c) { t.appendChild(el("tr", {}, [el("td", {text: String(c.count)}), el("td", {text: c.signature}), el("td", {text: c.steps.join(", ")})])); });
      sec.appendChild(t);
    }
  }

  /* ---- virtualised list: flow header rows + step rows ---- */
  function depthOf(run) {
    if (run._depth) return run._depth;
    var parents = {}; run.steps.forEach(function (s) { parents[s.k] = s.pa; });
    run._depth = {};
    run.steps.forEach(function (s) { var d = 0, p = s.pa; while (p && d < 20) { d++; p = parents[p]; } run._depth[s.k] = d; });
    return run._depth;
  }
  function matches(s) {
    if (state.status && s.s !== state.status) return false;
    if (!state.q) return true;
    var hay = (s.k + " " + s.t + " " + (s.sm || "") + " " + (s.e ? s.e.message : "") + " " + (s.de || "")).toLowerCase();
    return hay.indexOf(state.q) >= 0;
  }
  function rebuild() {
    rows = [];
    var shown = 0, total = 0;
    D.runs.forEach(function (run, ri) {
      var steps = [];
      run.steps.forEach(function (s, si) { total++; if (matches(s)) steps.push(si); });
      shown += steps.length;
      if (!steps.length && (state.status || state.q)) return;
      rows.push({run: ri});
      if (!state.collapsed[ri]) steps.forEach(function (si) { rows.push({run: ri, step: si}); });
    });
    $("shown").textContent = shown + " of " + total + " steps";
    $("spacer").style.height = rows.length * ROW + "px";
    draw(true);
  }
  var drawn = {first: -1, last: -1};
  function draw(force) {
    var list = $("list"), first = Math.max(0, Math.floor(list.scrollTop / ROW) - OVERSCAN);
    var last = Math.min(rows.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + OVERSCAN);
    if (!force && first === drawn.first && last === drawn.last) return;
    drawn = {first: first, last: last};
    var spacer = $("spacer"); spacer.textContent = "";
    for (var i = first; i < last; i++) spacer.appendChild(rowEl(rows[i], i));
  }
  function rowEl(r, i) {
    var run = D.runs[r.run], top = "top:" + i * ROW + "px";
    if (r.step == null) {
      var c = run.c;
      return el("div", {"class": "row flow", style: top, "data-run": run.id, onclick: function () { state.collapsed[r.run] = !state.collapsed[r.run]; select({run: r.run}); rebuild(); }}, [
        el("span", {"class": "name"}, [(state.collapsed[r.run] ? "▸ " : "▾ "), dot(run.s), run.flow]),
        el("span", {"class": "kind", text: c.passed + "✓ " + (c.failed + c.error) + "✗ " + (c.skipped + c.cancelled) + "–"}),
        el("span", {"class": "num", text: fmtMs(run.d)}), el("span", {"class": "muted", text: run.id})]);
    }
    var s = run.steps[r.step], total = Math.max(run.d, 1), depth = depthOf(run)[s.k];
    var tl = el("span", {"class": "tl"});
    if (s.st != null) {
      var left = Math.min(100, Math.max(0, s.st / total * 100)), width = Math.max(0.3, s.d / total * 100);
      tl.appendChild(el("span", {"class": "bar", style: "left:" + left + "%;width:" + Math.min(width, 100 - left) + "%;background:" + COLORS[s.s], title: fmtMs(s.st) + " + " + fmtMs(s.d)}));
    }
    var sel = state.sel && state.sel.run === r.run && state.sel.step === r.step;
    return el("div", {"class": "row step" + (sel ? " sel" : ""), style: top, "data-key": s.k, "data-status": s.s, onclick: function () { select(r); draw(true); }}, [
      el("span", {"class": "name", style: "padding-left:" + (8 + depth * 14) + "px", title: s.k}, [dot(s.s), s.k + (s.a ? "  ↻" + s.a : "")]),
      el("span", {"class": "kind", text: s.t}), el("span", {"class": "num", text: fmtMs(s.d)}), tl]);
  }

  /* ---- detail panel ---- */
  function section(parent, title, node) { if (node) { parent.appendChild(el("h3", {text: title})); parent.appendChild(node); } }
  function kv(obj) {
    var t = el("table");
    Object.keys(obj).forEach(function (k) { t.appendChild(el("tr", {}, [el("td", {text: k}), el("td", {}, [el("code", {html: highlight(obj[k])})])])); });
    return t;
  }
  function copyButton(text, label) {
    return el("button", {"class": "copy", text: label, onclick: function (e) {
      var b = e.target;
      function done() { b.textContent = "copied"; setTimeout(function () { b.textContent = label; }, 1200); }
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback); else fallback();
      function fallback() { var ta = el("textarea", {style: "position:fixed;opacity:0"}); ta.value = text; document.body.appendChild(ta); ta.select(); try { document.execCommand("copy"); done(); } catch (x) { /* ignore */ } ta.remove(); }
    }});
  }
  function select(r) {
    state.sel = r;
    var p = $("detail"); p.textContent = "";
    var run = D.runs[r.run];
    if (r.step == null) {
      p.appendChild(el("h2", {}, [badge(run.s), " ", run.flow]));
      var info = {run_id: run.id, started: run.at, duration: fmtMs(run.d)};
      if (run.file) info.file = run.file; if (run.env) info.environment = run.env; if (run.tags) info.tags = run.tags.join(", ");
      p.appendChild(kv(info));
      if (run.e) section(p, "Run error", el("div", {"class": "trace"}, [el("b", {text: run.e.type + ": "}), run.e.message]));
      if (run.ctx) section(p, "Final context", code(run.ctx));
      return;
    }
    var s = run.steps[r.step];
    p.appendChild(el("h2", {}, [badge(s.s), " ", s.k]));
    var facts = {kind: s.t, duration: fmtMs(s.d), attempts: s.a || 1};
    if (s.p) facts.phase = s.p; if (s.pa) facts.parent = s.pa; if (s.it != null) facts.iteration = s.it; if (s.w) facts.worker = s.w;
    if (s.sk) facts["skip reason"] = s.sk; if (s.de) facts.description = s.de; if (s.sm) facts.summary = s.sm;
    p.appendChild(kv(facts));
    if (s.e) {
      var trace = el("div", {"class": "trace"}, [el("b", {text: s.e.type + ": "}), s.e.message]);
      if (s.e.details) trace.appendChild(code(s.e.details));
      section(p, "Failure", trace);
    }
    if (s.as) {
      var t = el("div");
      s.as.forEach(function (a) {
        t.appendChild(el("div", {}, [el("span", {"class": a.ok ? "ok" : "ko", text: a.ok ? "✓ " : "✗ "}), el("code", {text: a.path}), " " + a.m + (a.msg ? " — " + a.msg : "")]));
        if (!a.ok) {
          var d = a.diff || lineDiff(a.exp, a.act);
          if (d) { t.appendChild(el("div", {"class": "muted", text: "− expected   + actual"})); t.appendChild(diffView(d)); }
          else { t.appendChild(el("div", {text: "expected"})); t.appendChild(code(a.exp)); t.appendChild(el("div", {text: "actual"})); t.appendChild(code(a.act)); }
        }
      });
      section(p, "Assertions", t);
    }
    if (s.ae) {
      var at = el("table", {}, [el("tr", {}, [el("th", {text: "attempt"}), el("th", {text: "error"}), el("th", {text: "at"})])]);
      s.ae.forEach(function (x) { at.appendChild(el("tr", {}, [el("td", {text: String(x.attempt)}), el("td", {text: x.error}), el("td", {text: x.at || ""})])); });
      section(p, "Retries", at);
    }
    if ("det" in s) {
      if (s.det == null) section(p, "Detail", el("p", {"class": "muted", text: "detail not available (" + (s.ref ? s.ref.uri : "no artefact") + ")"}));
      else {
        if (s.det.request != null) {
          var req = el("div", {}, [code(s.det.request)]);
          if (s.det.curl) req.insertBefore(el("div", {}, [copyButton(s.det.curl, "copy as curl")]), req.firstChild);
          section(p, "Request", req);
        }
        if (s.det.response != null) section(p, "Response", code(s.det.response));
        if (s.det.fields != null) {
          /* Leave out what the response already shows (status, headers, body). */
          var resp = s.det.response || {}, extra = {};
          if (typeof s.det.fields === "object" && !Array.isArray(s.det.fields)) {
            Object.keys(s.det.fields).forEach(function (k) { if (JSON.stringify(s.det.fields[k]) !== JSON.stringify(resp[k])) extra[k] = s.det.fields[k]; });
          } else extra = s.det.fields;
          if (typeof extra !== "object" || Object.keys(extra).length) section(p, "Result fields", code(extra));
        }
      }
    } else if (s.pv) section(p, "Preview", code(s.pv));
    if (s.x) section(p, "Extracted", kv(s.x));
    if (s.cc) section(p, "Context changes", kv(s.cc));
    var logs = (s.lg || []).concat(s.det && s.det.logs ? s.det.logs : []);
    if (logs.length) section(p, "Logs", el("pre", {text: logs.map(function (l) { return typeof l === "string" ? l : (l.at ? l.at + " " : "") + "[" + (l.level || "info") + "] " + l.message; }).join("\n")}));
    if (s.ref) section(p, "Artefacts", el("a", {href: s.ref.uri, text: s.ref.name + " (" + s.ref.size + " bytes)"}));
  }

  header(); history(); sync();
  $("list").addEventListener("scroll", function () { draw(false); }, {passive: true});
  window.addEventListener("resize", function () { draw(true); });
  /* Open the first failure that carries its own cause (not a parallel/group parent). */
  var firstBad = null;
  D.runs.some(function (run, ri) { return run.steps.some(function (s, si) { if ((s.s === "failed" || s.s === "error") && (s.e || s.as)) { firstBad = {run: ri, step: si}; return true; } return false; }); });
  if (firstBad) { select(firstBad); draw(true); }
  document.body.setAttribute("data-ready", "1");
})();
