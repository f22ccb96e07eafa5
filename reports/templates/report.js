// tls-audit HTML report: the flow table (sort, filter, pages) and links to
// flows. Data comes from the JSON island #flow-data and is written with
// textContent only, never as markup: whatever came off the wire stays text.
(function () {
  "use strict";
  var PAGE = 100;
  var island = document.getElementById("flow-data");
  var data = island ? JSON.parse(island.textContent) : { columns: [], rows: [] };
  var columns = data.columns;
  var rows = data.rows;
  var col = {};
  columns.forEach(function (c, i) { col[c.key] = i; });
  // One lower-case string per row to filter on, built once.
  var haystack = rows.map(function (r) { return r.join("\u0001").toLowerCase(); });
  var state = { q: "", protection: "", sort: "index", dir: 1, page: 0 };
  var view = [];

  var tbody = document.getElementById("flow-rows");
  var filter = document.getElementById("flow-filter");
  var protection = document.getElementById("flow-protection");
  var info = document.getElementById("flow-info");
  var prev = document.getElementById("flow-prev");
  var next = document.getElementById("flow-next");
  var head = document.getElementById("flow-head");

  function compute() {
    var q = state.q.toLowerCase().split(/\s+/).filter(Boolean);
    var p = state.protection;
    var pc = col.protection;
    view = [];
    for (var i = 0; i < rows.length; i++) {
      if (p && rows[i][pc] !== p) continue;
      var ok = true;
      for (var k = 0; k < q.length; k++) {
        if (haystack[i].indexOf(q[k]) < 0) { ok = false; break; }
      }
      if (ok) view.push(i);
    }
    var c = col[state.sort];
    var numeric = columns[c] && columns[c].numeric;
    var dir = state.dir;
    view.sort(function (a, b) {
      var x = rows[a][c], y = rows[b][c];
      var d;
      if (numeric) d = (Number(x) || 0) - (Number(y) || 0);
      else d = String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
      return d !== 0 ? d * dir : a - b;
    });
  }

  function cell(tr, text, cls, href) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    tr.appendChild(td);
    return td;
  }

  function render() {
    var pages = Math.max(1, Math.ceil(view.length / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    if (state.page < 0) state.page = 0;
    var start = state.page * PAGE;
    var frag = document.createDocumentFragment();
    for (var i = start; i < Math.min(view.length, start + PAGE); i++) {
      var r = rows[view[i]];
      var tr = document.createElement("tr");
      tr.id = "flow-" + r[col.index];
      columns.forEach(function (c, j) {
        var v = r[j];
        if (c.key === "protection") {
          var td = cell(tr, "", "");
          var s = document.createElement("span");
          s.className = "prot " + String(v).replace(/[^a-z0-9-]/g, "");
          s.textContent = v;
          td.appendChild(s);
        } else if (c.key === "cert" && v) {
          cell(tr, String(v).slice(0, 12), "mono", "#cert-" + v);
        } else if (c.key === "finding" && v !== "") {
          cell(tr, "#" + (Number(v) + 1), "", "#finding-" + v);
        } else if (c.key === "index") {
          cell(tr, String(Number(v) + 1), "num");
        } else {
          cell(tr, v === null ? "" : String(v), c.numeric ? "num" : "");
        }
      });
      frag.appendChild(tr);
    }
    tbody.textContent = "";
    tbody.appendChild(frag);
    info.textContent = view.length + " of " + rows.length + " flows · page " + (state.page + 1) + " of " + pages;
    prev.disabled = state.page === 0;
    next.disabled = state.page + 1 >= pages;
    Array.prototype.forEach.call(head.querySelectorAll("th"), function (th) {
      th.classList.remove("sorted-asc", "sorted-desc");
      if (th.getAttribute("data-key") === state.sort) th.classList.add(state.dir > 0 ? "sorted-asc" : "sorted-desc");
    });
  }

  function update() { compute(); render(); }

  function show(index) {
    state.q = ""; state.protection = ""; state.sort = "index"; state.dir = 1;
    filter.value = ""; protection.value = "";
    compute();
    var pos = view.indexOf(index);
    if (pos < 0) return;
    state.page = Math.floor(pos / PAGE);
    render();
    var tr = document.getElementById("flow-" + index);
    if (tr) {
      Array.prototype.forEach.call(document.querySelectorAll("tr.target"), function (t) { t.classList.remove("target"); });
      tr.classList.add("target");
      tr.scrollIntoView({ block: "center" });
    }
  }

  function onHash() {
    var m = /^#flow-(\d+)$/.exec(location.hash);
    if (m) show(Number(m[1]));
  }

  if (tbody) {
    var params = new URLSearchParams(location.search);
    state.q = params.get("q") || "";
    state.protection = params.get("protection") || "";
    if (params.get("sort") && params.get("sort") in col) state.sort = params.get("sort");
    if (params.get("dir") === "desc") state.dir = -1;
    filter.value = state.q;
    protection.value = state.protection;
    var timer = null;
    filter.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { state.q = filter.value; state.page = 0; update(); }, 120);
    });
    protection.addEventListener("change", function () { state.protection = protection.value; state.page = 0; update(); });
    prev.addEventListener("click", function () { state.page--; render(); });
    next.addEventListener("click", function () { state.page++; render(); });
    head.addEventListener("click", function (e) {
      var th = e.target.closest("th[data-key]");
      if (!th) return;
      var key = th.getAttribute("data-key");
      state.dir = state.sort === key ? -state.dir : 1;
      state.sort = key;
      state.page = 0;
      update();
    });
    window.addEventListener("hashchange", onHash);
    update();
    onHash();
  }

  // Print everything: closed <details> would hide evidence on paper.
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
  });

  // For tests and people: the script ran to its end.
  var done = document.createElement("div");
  done.id = "js-ready";
  done.hidden = true;
  done.textContent = String(rows.length);
  document.body.appendChild(done);
})();
