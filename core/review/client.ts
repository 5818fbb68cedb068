/**
 * The review page's script (plain ES2019, no build step, no dependencies), inlined by `renderPage`.
 * Static mode keeps labels in localStorage; served mode sends each decision to the server as it is made
 * (keeping unsent ones in localStorage until the server has them) and follows what other browsers label.
 * Written without template literals so it can live in this TypeScript string.
 */
export const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('cfg').textContent);
  var served = cfg.mode === 'served';
  var labels = new Map(); // cellId -> latest decision
  var cells = cfg.cells || [];
  var focus = 0;
  var offset = 0; // served: bytes of labels.jsonl already seen
  var view = 'sample'; // or 'uncertain'
  var pending = []; // served: decisions not yet acknowledged
  var reviewer = localStorage.getItem('tessel-review:reviewer') || cfg.reviewer || '';
  var classByName = new Map(cfg.classes.map(function (c) { return [c.name, c]; }));
  var grid = document.getElementById('grid');
  var status = document.getElementById('status');

  function apply(d) {
    var prior = labels.get(d.cellId);
    if (prior && prior.time > d.time) return;
    if (d.label === null) labels.delete(d.cellId); else labels.set(d.cellId, d);
  }
  function saveLocal() {
    if (served) localStorage.setItem(cfg.storageKey + ':pending', JSON.stringify(pending));
    else localStorage.setItem(cfg.storageKey, JSON.stringify(Array.from(labels.values())));
  }
  function setStatus(text, bad) { status.textContent = text; status.className = bad ? 'bad' : ''; }

  function counts() {
    var n = {}; cfg.classes.forEach(function (c) { n[c.name] = 0; }); n.unsure = 0;
    labels.forEach(function (d) { if (d.label in n) n[d.label]++; });
    var onPage = cells.filter(function (c) { return !labels.has(c.id); }).length;
    var html = cfg.classes.map(function (c) {
      return '<span style="--c:' + c.color + '" data-class="' + esc(c.name) + '">' + esc(c.name) + ' <b>' + n[c.name] + '</b></span>';
    }).join('') + '<span data-class="unsure">unsure <b>' + n.unsure + '</b></span><span>unlabelled here <b>' + onPage + '</b></span>';
    document.getElementById('counts').innerHTML = html;
  }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); }

  function tile(c, i) {
    var d = labels.get(c.id);
    var cls = d && classByName.get(d.label);
    var tilePx = 128;
    var barUm = 10;
    var barPx = c.um ? barUm / c.um : 10;
    var bar = '<div class="bar" style="width:' + (barPx * tilePx / c.size).toFixed(1) + 'px"></div><small>' + (c.um ? barUm + ' µm' : '10 px') + '</small>';
    var pred = c.predicted ? '<span class="pred">' + esc(c.predicted) + ' ' + Math.round(c.probability * 100) + '%</span>' : '';
    return '<figure data-i="' + i + '" data-id="' + esc(c.id) + '"' + (d ? ' data-label="' + esc(d.label) + '"' : '') +
      (cls ? ' style="--c:' + cls.color + '"' : '') + (i === focus ? ' class="focus"' : '') + '>' +
      '<div class="crop"><img loading="lazy" decoding="async" alt="" src="' + esc(c.src) + '">' +
      '<svg viewBox="0 0 ' + c.size + ' ' + c.size + '" preserveAspectRatio="none"><path d="' + c.outline + '"/></svg>' + bar + pred + '</div>' +
      '<figcaption title="' + esc(c.image + ' #' + c.label) + '">' + (d ? '<b>' + esc(d.label) + '</b> · ' : '') + esc(c.image) + ' #' + c.label +
      ' · ' + c.area.toFixed(0) + ' ' + cfg.unit + '²</figcaption></figure>';
  }
  function render() {
    grid.innerHTML = cells.map(tile).join('');
    counts();
    var info = view === 'uncertain' ? 'least sure: ' + cells.length + ' cells' :
      'page ' + cfg.page + ' of ' + cfg.pages + ' (' + cfg.sampled + ' sampled cells)';
    document.getElementById('pageinfo').textContent = info;
    nav();
  }
  function redraw(i) {
    var old = grid.querySelector('figure[data-i="' + i + '"]');
    if (!old) return;
    var t = document.createElement('div'); t.innerHTML = tile(cells[i], i);
    old.replaceWith(t.firstChild);
    counts();
  }
  function moveFocus(i) {
    if (cells.length === 0) return;
    i = Math.max(0, Math.min(cells.length - 1, i));
    var old = grid.querySelector('figure.focus'); if (old) old.classList.remove('focus');
    focus = i;
    var f = grid.querySelector('figure[data-i="' + i + '"]');
    if (f) { f.classList.add('focus'); f.scrollIntoView({ block: 'nearest' }); }
  }
  function columns() {
    var figs = grid.querySelectorAll('figure');
    if (figs.length < 2) return 1;
    var top = figs[0].offsetTop, n = 0;
    while (n < figs.length && figs[n].offsetTop === top) n++;
    return Math.max(1, n);
  }

  function decide(label) {
    var c = cells[focus];
    if (!c) return;
    if (label !== null && label !== 'unsure' && !classByName.has(label)) return;
    var d = { cellId: c.id, image: c.image, maskLabel: c.label, x: c.x, y: c.y, label: label, time: new Date().toISOString(), reviewer: reviewer };
    apply(d);
    if (served) { pending.push(d); send(); }
    saveLocal();
    if (!served) setStatus(labels.size + ' labelled (kept in this browser: Export to save a file)');
    redraw(focus);
    if (label !== null) moveFocus(focus + 1);
  }

  // Served mode: every decision goes to the server as it is made; unsent ones survive a reload.
  var sending = false;
  function send() {
    if (!served || sending || pending.length === 0) return;
    sending = true;
    var batch = pending.slice();
    api('api/labels', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ decisions: batch, since: offset }) })
      .then(function (b) {
        pending.splice(0, batch.length); saveLocal(); merge(b);
        setStatus(pending.length ? 'saving… (' + pending.length + ' to send)' : 'all saved (' + labels.size + ' labelled)');
        sending = false; send();
      })
      .catch(function (e) {
        if (e.status >= 400 && e.status < 500) {
          // The server refused them (an unknown class, say): retrying cannot help.
          pending.splice(0, batch.length); saveLocal(); setStatus('not saved: ' + e.message, true); sending = false; return;
        }
        setStatus('not saved yet: ' + e.message + ' (kept in this browser; retrying)', true);
        setTimeout(function () { sending = false; send(); }, 3000);
      });
  }
  function merge(b) {
    (b.decisions || []).forEach(apply);
    if (typeof b.offset === 'number') offset = b.offset;
    cells.forEach(function (c, i) { var f = grid.querySelector('figure[data-i="' + i + '"]'); if (f && f.dataset.label !== ((labels.get(c.id) || {}).label)) redraw(i); });
    counts();
  }
  function poll() {
    fetch('api/labels?since=' + offset).then(function (r) { return r.json(); }).then(merge).catch(function () {});
  }
  function api(path, opts) {
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) {
        if (!r.ok) { var e = new Error(b.error || r.statusText); e.status = r.status; throw e; }
        return b;
      });
    });
  }
  function loadPage(n) {
    return api('api/page?n=' + n).then(function (b) { cells = b.cells; cfg.page = b.page; cfg.pages = b.pages; cfg.sampled = b.sampled; view = 'sample'; focus = 0; render(); history.replaceState(null, '', '?page=' + b.page); });
  }
  function showLearning(h) {
    document.getElementById('learn').textContent = h.length === 0 ? '' : 'CV accuracy: ' + h.map(function (r) {
      return r.labels + ' labels → ' + (r.accuracy === undefined ? 'n/a' : (r.accuracy * 100).toFixed(1) + '%');
    }).join(', ');
  }
  function retrain() {
    setStatus('training…');
    return api('api/train', { method: 'POST' }).then(function (b) { showLearning(b.history); setStatus('trained on ' + b.round.labels + ' labels'); })
      .catch(function (e) { setStatus(e.message, true); });
  }
  function fetchUncertain() {
    setStatus('finding the cells the classifier is least sure of…');
    return api('api/uncertain?n=' + cfg.perPage).then(function (b) { cells = b.cells; view = 'uncertain'; focus = 0; render(); setStatus(b.cells.length + ' least-sure cells (round ' + b.round + ')'); })
      .catch(function (e) { setStatus(e.message, true); });
  }

  function nav() {
    var el = document.getElementById('nav');
    if (view !== 'sample') { el.innerHTML = ''; return; }
    var prev = cfg.page > 1, next = cfg.page < cfg.pages;
    el.innerHTML = '<button id="prev"' + (prev ? '' : ' disabled') + '>← page</button> <button id="next"' + (next ? '' : ' disabled') + '>page →</button>';
    document.getElementById('prev').onclick = function () { go(cfg.page - 1); };
    document.getElementById('next').onclick = function () { go(cfg.page + 1); };
  }
  function go(n) {
    if (n < 1 || n > cfg.pages) return;
    if (served) loadPage(n); else location.href = cfg.pageFiles[n - 1];
  }

  function exportLabels() {
    var doc = { format: 'tessel-review-labels', version: 1, labels: Array.from(labels.values()) };
    var a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 1)], { type: 'application/json' }));
    a.download = 'labels.json';
    document.body.appendChild(a); a.click(); a.remove();
  }
  function importLabels(file) {
    file.text().then(function (text) {
      var list;
      var t = text.trim();
      if (t.charAt(0) === '{' && t.indexOf('"tessel-review-labels"') >= 0) list = JSON.parse(t).labels;
      else list = t.split('\n').filter(Boolean).map(function (l) { return JSON.parse(l); });
      var unknown = list.filter(function (d) { return d.label !== null && d.label !== 'unsure' && !classByName.has(d.label); });
      if (unknown.length) throw new Error(unknown.length + ' label(s) of classes this review does not have (' + unknown[0].label + ')');
      list.forEach(apply);
      if (served) { Array.prototype.push.apply(pending, list); send(); }
      saveLocal(); render();
      setStatus('imported ' + list.length + ' decisions');
    }).catch(function (e) { setStatus('import failed: ' + e.message, true); });
  }

  document.addEventListener('keydown', function (e) {
    if (e.target && (e.target.tagName === 'INPUT' || e.target.tagName === 'TEXTAREA') || e.ctrlKey || e.metaKey || e.altKey) return;
    var k = e.key;
    var byKey = cfg.classes.find(function (c) { return c.key === k; });
    if (byKey) decide(byKey.name);
    else if (k === 'u' || k === '0') decide('unsure');
    else if (k === 'x' || k === 'Backspace' || k === 'Delete') decide(null);
    else if (k === 'ArrowRight') moveFocus(focus + 1);
    else if (k === 'ArrowLeft') moveFocus(focus - 1);
    else if (k === 'ArrowDown') moveFocus(focus + columns());
    else if (k === 'ArrowUp') moveFocus(focus - columns());
    else if (k === 'n' || k === 'PageDown') go(cfg.page + 1);
    else if (k === 'p' || k === 'PageUp') go(cfg.page - 1);
    else if (k === 'o') document.body.classList.toggle('no-outline');
    else if (k === '?') document.body.classList.toggle('show-help');
    else if (served && k === 't') retrain();
    else if (served && k === 'f') fetchUncertain();
    else return;
    e.preventDefault();
  });
  grid.addEventListener('click', function (e) { var f = e.target.closest('figure'); if (f) moveFocus(Number(f.dataset.i)); });
  document.getElementById('export').onclick = exportLabels;
  document.getElementById('import').onchange = function (e) { if (e.target.files[0]) importLabels(e.target.files[0]); e.target.value = ''; };
  document.getElementById('helpbtn').onclick = function () { document.body.classList.toggle('show-help'); };

  if (served) {
    document.getElementById('train').onclick = retrain;
    document.getElementById('fetch').onclick = fetchUncertain;
    document.getElementById('sample').onclick = function () { loadPage(cfg.page); };
    try { pending = JSON.parse(localStorage.getItem(cfg.storageKey + ':pending') || '[]'); } catch (err) { pending = []; }
    var n = Number(new URLSearchParams(location.search).get('page')) || 1;
    api('api/state').then(function (s) {
      offset = s.offset; s.decisions.forEach(apply); pending.forEach(apply); showLearning(s.history);
      if (!reviewer) reviewer = s.reviewer;
      return loadPage(Math.min(Math.max(1, n), Math.max(1, s.pages)));
    }).then(function () { send(); setStatus(labels.size + ' labelled'); }).catch(function (e) { setStatus(e.message, true); });
    setInterval(poll, 3000);
  } else {
    try { JSON.parse(localStorage.getItem(cfg.storageKey) || '[]').forEach(apply); } catch (err) { /* a corrupt store starts empty */ }
    render();
    setStatus(labels.size + ' labelled (kept in this browser: Export to save a file)');
  }
  window.tesselReview = { labels: labels, cells: function () { return cells; }, pending: function () { return pending; } };
})();
`;
