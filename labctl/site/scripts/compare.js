// The comparison: columns from the URL's run parameters ("<key>" = each target of that run with data,
// "<key>:<target>" = one target), numbers from runs.js. A column's baseline is the first column of the
// same target (run against run, like for like), else the first column (target against target); every
// other cell carries its value, the difference and the ratio to its baseline (also as data-* attributes).
(function () {
  var data = window.SITE_RUNS || {}, out = document.getElementById("comparison");
  var picked = new URLSearchParams(location.search).getAll("run"), cols = [], missing = [];

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }
  function fmt(v, unit) {
    if (v === null || v === undefined) return "—";
    if (unit === "bytes") {
      var sizes = [["GiB", 1073741824], ["MiB", 1048576], ["KiB", 1024]];
      for (var i = 0; i < sizes.length; i++) {
        if (Math.abs(v) >= sizes[i][1]) return Number((v / sizes[i][1]).toPrecision(3)) + " " + sizes[i][0];
      }
      return Number(v.toPrecision(3)) + " B";
    }
    var text = String(Number(v.toPrecision(4)));
    return unit ? text + " " + unit : text;
  }
  function done(html) {
    out.innerHTML = html;
    document.documentElement.setAttribute("data-columns", String(cols.length));
  }

  picked.forEach(function (id) {
    var i = id.indexOf(":"), key = i < 0 ? id : id.slice(0, i), run = data[key];
    if (!run) { missing.push(key); return; }
    (i < 0 ? run.columns : [id.slice(i + 1)]).forEach(function (t) { cols.push({ key: key, run: run, target: t }); });
  });
  var notes = missing.length ? '<p class="nodata">Not in this site: ' + esc(missing.join(", ")) + "</p>" : "";
  if (cols.length < 2) {
    done(notes + '<p>Pick two or more runs on the <a href="index.html">index</a> ' +
      "(one run with several targets compares its targets).</p>");
    return;
  }

  function header() {
    return '<tr><th scope="col">Metric</th>' + cols.map(function (c, i) {
      var when = c.run.created.slice(0, 19).replace("T", " ");
      return '<th scope="col" data-col="' + i + '"><a href="runs/' + esc(c.key) + '.html">' + esc(c.run.title) +
        '</a><div class="muted">' + esc(c.run.name) + " · " + esc(c.target || "(all targets)") + " · " + esc(when) +
        (c.base === i ? " · baseline" : " · vs column " + (c.base + 1)) + "</div></th>";
    }).join("") + "</tr>";
  }
  cols.forEach(function (c, i) {
    c.base = 0;
    for (var j = 0; j < i; j++) if (cols[j].target === c.target) { c.base = j; break; }
  });
  function numberCell(v, i, base, unit) {
    var cell = '<td class="num" data-col="' + i + '"' + (v === null ? "" : ' data-value="' + v + '"');
    if (i === 0 || v === null || base === null) return cell + ">" + fmt(v, unit) + "</td>";
    var d = v - base, r = base !== 0 ? v / base : null, b = cols[i].base;
    var delta = "Δ " + (d > 0 ? "+" : "") + fmt(d, unit) + (r === null ? "" : " · ×" + Number(r.toPrecision(3)));
    var vs = cols[b].run.title + " · " + (cols[b].target || "(all targets)");
    return cell + ' data-base="' + b + '" data-diff="' + d + '"' + (r === null ? "" : ' data-ratio="' + r + '"') +
      ">" + fmt(v, unit) + '<div class="delta ' + (d > 0 ? "up" : d < 0 ? "down" : "") + '" title="vs ' + esc(vs) +
      '">' + delta + "</div></td>";
  }
  function numberRow(label, name, values, unit) {
    return '<tr data-metric="' + esc(name) + '"><th scope="row">' + label + "</th>" +
      values.map(function (v, i) { return numberCell(v, i, values[cols[i].base], unit); }).join("") + "</tr>";
  }
  function textRow(label, name, cell) {
    return '<tr data-metric="' + name + '"><th scope="row">' + label + "</th>" +
      cols.map(function (c, i) { return '<td data-col="' + i + '">' + cell(c.run) + "</td>"; }).join("") + "</tr>";
  }

  var body = textRow("Verdict", "verdict", function (r) {
    return '<span class="verdict ' + esc(r.verdict) + '">' + esc(r.verdict) + "</span>";
  });
  body += textRow("Hypothesis", "hypothesis", function (r) { return esc(r.claim || "—"); });
  body += numberRow("Cost (run)", "cost", cols.map(function (c) { return c.run.cost; }), "USD");
  var names = [];
  cols.forEach(function (c) {
    Object.keys(c.run.metrics).forEach(function (m) { if (names.indexOf(m) < 0) names.push(m); });
  });
  names.sort().forEach(function (m) {
    var unit = null, label = "<code>" + esc(m) + "</code>";
    var values = cols.map(function (c) {
      var metric = c.run.metrics[m];
      if (!metric) return null;
      unit = unit || metric.unit;
      if (metric.description) label = esc(metric.description) + "<br><code>" + esc(m) + "</code>";
      var v = metric.values[c.target];
      return v === undefined ? null : v;
    });
    body += numberRow(label, m, values, unit);
  });
  done(notes + '<div class="table-wrap"><table class="comparison">' + header() + body + "</table></div>");
})();
