// The index: text search, filters, sort buttons. The URL can preset them (index.html?series=x&verdict=
// invalidated&sort=date&order=desc: a view to share). With JS off the table is complete and the
// "Compare selected" form still submits the ticked runs.
(function () {
  var rows = [].slice.call(document.querySelectorAll("#runs tbody tr"));
  var q = document.getElementById("q"), from = document.getElementById("from"), to = document.getElementById("to");
  var maxcost = document.getElementById("maxcost"), shown = document.getElementById("shown");
  var selects = [].slice.call(document.querySelectorAll("select[data-filter]"));

  function visible(r, text, limit) {
    var day = r.getAttribute("data-date").slice(0, 10);
    if (text && r.getAttribute("data-text").indexOf(text) < 0) return false;
    for (var i = 0; i < selects.length; i++) {
      var s = selects[i], values = r.getAttribute("data-" + s.getAttribute("data-filter")).split("|");
      if (s.value && values.indexOf(s.value) < 0) return false;
    }
    if ((from.value && day < from.value) || (to.value && day > to.value)) return false;
    return isNaN(limit) || parseFloat(r.getAttribute("data-cost")) <= limit;
  }

  function apply() {
    var text = q.value.trim().toLowerCase(), limit = parseFloat(maxcost.value), n = 0;
    rows.forEach(function (r) {
      r.hidden = !visible(r, text, limit);
      if (!r.hidden) n++;
    });
    shown.textContent = String(n);
  }

  function sortBy(button) {
    var key = "data-sort-" + button.getAttribute("data-sort"), numeric = button.hasAttribute("data-numeric");
    var th = button.parentNode, asc = th.getAttribute("aria-sort") !== "ascending";
    [].slice.call(document.querySelectorAll("#runs th[aria-sort]")).forEach(function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = a.getAttribute(key), y = b.getAttribute(key);
      if (numeric) {
        x = parseFloat(x); y = parseFloat(y);
        x = isNaN(x) ? -1 : x; y = isNaN(y) ? -1 : y;
      }
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    var body = document.querySelector("#runs tbody");
    rows.forEach(function (r) { body.appendChild(r); });
  }

  [q, from, to, maxcost].forEach(function (e) { e.addEventListener("input", apply); });
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  [].slice.call(document.querySelectorAll("th button[data-sort]")).forEach(function (b) {
    b.addEventListener("click", function () { sortBy(b); });
  });
  var params = new URLSearchParams(location.search);
  [q, from, to, maxcost].concat(selects).forEach(function (e) {
    if (params.get(e.name) !== null) e.value = params.get(e.name);
  });
  var preset = document.querySelector('th button[data-sort="' + params.get("sort") + '"]');
  if (preset) {
    sortBy(preset);
    if (params.get("order") === "desc") sortBy(preset);
  }
  apply();
})();
