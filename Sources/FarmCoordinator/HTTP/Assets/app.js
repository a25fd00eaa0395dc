// The reelfarm dashboard: plain JS, no framework, no build step. Views are chosen by the address's hash
// (#/jobs, #/job/ID, #/workers, #/submit, #/timeline); the farm's state arrives by Server-Sent Events
// (/api/events), so nothing needs a reload. Everything a storyboard or a worker says is shown as text, never as HTML.
'use strict';

const state = { snapshot: null, view: null, detail: null, detailAt: 0, workersAt: 0, timelineAt: 0 };
const colors = { waiting: '--waiting', ready: '--ready', running: '--running', done: '--done', failed: '--failed',
                 cancelled: '--cancelled', assembling: '--assembling', queued: '--queued', lost: '--lost',
                 'handed-back': '--cancelled', 'coordinator-restart': '--cancelled' };

function color(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(colors[name] || '--muted').trim() || '#888';
}

// An element with attributes (on* are listeners) and children (strings become text nodes).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style') Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Replaces an element's children, skipping absent ones (null, false, undefined).
function show(root, ...children) {
  root.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// Calls the API; a failure throws an Error carrying the server's {error, field, issues, candidates}.
async function api(path, options = {}) {
  const init = { method: options.method || 'GET', headers: {}, credentials: 'same-origin' };
  if (init.method !== 'GET') init.headers['X-Reelfarm-CSRF'] = '1';
  if (options.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: text }; }
  if (!response.ok) {
    const err = new Error((body && body.error) || response.statusText);
    err.status = response.status;
    err.field = body && body.field;
    err.issues = (body && body.issues) || [];
    err.candidates = (body && body.candidates) || [];
    throw err;
  }
  return body;
}

function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

function duration(seconds) {
  if (seconds === undefined || seconds === null || !isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return hh > 0 ? `${hh}h ${two(mm)}m` : mm > 0 ? `${mm}m ${two(ss)}s` : `${ss}s`;
}

function clock(unix) {
  return unix ? new Date(unix * 1000).toLocaleTimeString() : '—';
}

function badge(name) {
  return h('span', { class: 'state', style: { background: color(name) } }, name);
}

function bar(done, total) {
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  return h('span', { class: 'bar', title: `${done} / ${total}` }, h('span', { style: { width: pct + '%' } }));
}

const finished = (s) => s === 'done' || s === 'failed' || s === 'cancelled';

// What an action did, in a sentence (the API answers counts: stopped_tasks, requeued_tasks, removed_artifacts, ...).
function outcome(action, job, r) {
  const n = (count, one) => `${count} ${one}${count === 1 ? '' : 's'}`;
  const id = r.job || r.id || job;
  switch (action) {
    case 'cancel': return `Cancelled ${id}: ${n(r.stopped_tasks || 0, 'running task')} stopped`;
    case 'retry': return `Retrying ${id}: ${n(r.requeued_tasks || 0, 'task')} queued again`;
    case 'delete': return `Deleted ${id}: ${n(r.removed_artifacts || 0, 'file')}, ${size(r.freed_bytes || 0)} freed`;
    case 'priority': return `${id} now has priority ${r.priority}`;
    default: return `${action}: done`;
  }
}

function size(bytes) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
  return u === 0 ? `${v} bytes` : `${v.toFixed(1)} ${units[u]}`;
}

async function act(job, action, body) {
  try {
    const r = await api(`/api/jobs/${encodeURIComponent(job)}/${action}`, { method: 'POST', body: body || {} });
    toast(outcome(action, job, r || {}));
    if (action === 'delete' && state.view === 'job') location.hash = '#/jobs';
    else render(true);
  } catch (e) {
    toast(`${action} failed: ${e.message}`);
  }
}

function actions(job) {
  const out = [];
  if (!finished(job.state)) {
    out.push(h('button', { onclick: () => act(job.id, 'cancel'), 'data-action': 'cancel' }, 'Cancel'));
  }
  if (job.state === 'failed' || job.state === 'cancelled') {
    out.push(h('button', { onclick: () => act(job.id, 'retry'), 'data-action': 'retry' }, 'Retry'));
  }
  if (finished(job.state)) {
    out.push(h('button', {
      'data-action': 'delete',
      onclick: () => { if (confirm(`Delete job ${job.id} and its film?`)) act(job.id, 'delete'); },
    }, 'Delete'));
  }
  if (job.state === 'done') {
    out.push(h('a', { href: `/api/jobs/${encodeURIComponent(job.id)}/film?download=1` }, 'film'));
  }
  return out;
}

function priorityInput(job) {
  if (finished(job.state)) return String(job.priority);
  return h('input', {
    type: 'number', value: job.priority, 'data-priority': job.id,
    onchange: (e) => act(job.id, 'priority', { priority: parseInt(e.target.value, 10) || 0 }),
  });
}

// ---- views ----

function jobsView(root) {
  const jobs = state.snapshot ? state.snapshot.jobs.slice().reverse() : [];
  show(root, 
    h('h1', {}, `Jobs (${jobs.length})`),
    jobs.length === 0 ? h('p', { class: 'muted' }, 'No jobs yet. Submit one.') : h('table', { id: 'jobs' },
      h('tr', {}, h('th', {}, 'Title'), h('th', {}, 'Job'), h('th', {}, 'State'), h('th', {}, 'Frames'),
        h('th', { class: 'num' }, 'Spent'), h('th', { class: 'num' }, 'Left'), h('th', {}, 'Priority'),
        h('th', {}, '')),
      jobs.map((j) => h('tr', { 'data-job': j.id },
        h('td', {}, h('a', { href: `#/job/${encodeURIComponent(j.id)}` }, j.title)),
        h('td', { class: 'muted' }, j.id),
        h('td', {}, badge(j.state), j.waiting ? h('div', { class: 'muted' }, j.waiting) : null,
          j.error ? h('div', { class: 'error' }, j.error) : null),
        h('td', {}, bar(j.frames_done, j.frames_total), `${j.frames_done} / ${j.frames_total}`),
        h('td', { class: 'num' }, duration(j.running_seconds)),
        h('td', { class: 'num' }, duration(j.eta_seconds)),
        h('td', {}, priorityInput(j)),
        h('td', {}, actions(j))))));
}

async function jobView(root, id, force) {
  const summary = state.snapshot && state.snapshot.jobs.find((j) => j.id === id || j.id.startsWith(id));
  const stale = !state.detail || state.detail.job.id !== (summary ? summary.id : id)
    || (summary && (summary.state !== state.detail.job.state || summary.tasks_done !== state.detail.job.tasks_done))
    || (summary && summary.state === 'running' && Date.now() - state.detailAt > 1000);
  if (stale || force) {
    try {
      state.detail = await api(`/api/jobs/${encodeURIComponent(id)}`);
      state.detailAt = Date.now();
    } catch (e) {
      delete root.dataset.view;
      show(root, h('h1', {}, 'Job'), h('p', { class: 'error' }, e.message),
        e.candidates.length
          ? h('ul', {}, e.candidates.map((c) => h('li', {}, h('a', { href: `#/job/${c}` }, c)))) : null);
      return;
    }
  }
  const d = state.detail;
  const j = d.job;
  const byShot = d.shots.map(() => []);
  for (const t of d.tasks) (byShot[t.shot] || (byShot[t.shot] = [])).push(t);
  const grid = h('div', { class: 'grid', id: 'grid' }, byShot.map((tasks, i) => h('div', { class: 'row' },
    h('span', { class: 'shot', title: d.shots[i] || '' }, d.shots[i] || `shot ${i}`),
    tasks.map((t) => h('span', {
      class: 'cell', 'data-state': t.state, style: { background: color(t.state) },
      title: `${t.key}: ${t.state}${t.state === 'running' ? ` step ${t.step}/${t.steps} on ${t.worker || '?'}` : ''}`
        + `, ${t.frames} frames, ${t.attempts} attempt(s)${t.error ? ' — ' + t.error : ''}`,
    })))));
  // The latest attempts first; a long job's history is cut to the latest 500 (the API has them all).
  const attempts = d.attempts.slice().reverse().slice(0, 500);
  // The player lives across redraws (a media element taken out of the page pauses).
  if (root.dataset.view !== 'job:' + j.id) {
    root.dataset.view = 'job:' + j.id;
    show(root, h('div', { id: 'job-head' }), h('div', { id: 'job-player' }), h('div', { id: 'shot-player' }),
      h('div', { id: 'job-body' }));
  }
  updatePlayer(j);
  show(document.getElementById('job-head'),
    h('h1', {}, j.title, ' ', badge(j.state)),
    h('p', {}, h('span', { class: 'muted' }, j.id), ' · ', `${j.tasks_done} / ${j.tasks_total} tasks · `,
      `${j.frames_done} / ${j.frames_total} frames · spent ${duration(j.running_seconds)}`,
      ` · left ${duration(j.eta_seconds)}`,
      ' · priority ', priorityInput(j), ' ', actions(j)),
    j.error ? h('p', { class: 'error' }, j.error) : null,
    j.waiting ? h('p', { class: 'muted' }, j.waiting) : null);
  show(document.getElementById('job-body'),
    h('h2', {}, 'Shots × segments'),
    legend(['waiting', 'ready', 'running', 'done', 'failed', 'cancelled']),
    grid,
    h('h2', {}, 'Shots'),
    shotsTable(j, d, byShot),
    h('h2', {}, 'Timeline'),
    gantt(d.attempts, d.now),
    h('h2', {}, `Attempts (${d.attempts.length}`,
      d.attempts.length > attempts.length ? ', the latest 500 shown' : '', ')'),
    h('table', { id: 'attempts' },
      h('tr', {}, h('th', {}, 'Task'), h('th', { class: 'num' }, '#'), h('th', {}, 'Worker'), h('th', {}, 'Start'),
        h('th', {}, 'End'), h('th', { class: 'num' }, 'Duration'), h('th', {}, 'Outcome'),
        h('th', {}, 'Progress / error')),
      attempts.map((a) => {
        const task = d.tasks.find((t) => t.key === a.key);
        const live = !a.outcome && task && task.state === 'running' && task.attempts === a.number;
        return h('tr', {},
          h('td', {}, a.key), h('td', { class: 'num' }, a.number), h('td', {}, a.worker),
          h('td', {}, clock(a.started_at)), h('td', {}, clock(a.ended_at)),
          h('td', { class: 'num' }, duration((a.ended_at || d.now) - a.started_at)),
          h('td', {}, a.outcome ? badge(a.outcome) : badge('running')),
          h('td', { class: a.error ? 'error' : '' }, a.error || (live ? `step ${task.step} / ${task.steps}` : '')));
      })));
}

// Each shot: its segments done, their first and last frames, and a button that plays the shot alone once its
// segments have all finished (while the job runs, or cut from the film once it is done).
function shotsTable(j, d, byShot) {
  const base = `/api/jobs/${encodeURIComponent(j.id)}`;
  return h('table', { id: 'shots' },
    h('tr', {}, h('th', {}, 'Shot'), h('th', { class: 'num' }, 'Segments'), h('th', {}, 'First and last frames'),
      h('th', {}, '')),
    byShot.map((tasks, i) => {
      const id = d.shots[i] || String(i);
      const done = tasks.filter((t) => t.state === 'done');
      const ready = tasks.length > 0 && done.length === tasks.length && j.state !== 'failed' && j.state !== 'cancelled';
      const thumbs = done.map((t) => h('span', { class: 'thumbs', title: t.key },
        ['first', 'last'].map((f) => h('img', {
          class: 'thumb', alt: `${t.key} ${f}`, 'data-segment': t.key, 'data-frame': f,
          src: `${base}/thumbnail?segment=${encodeURIComponent(t.key)}&frame=${f}`,
          onerror: (e) => { e.target.style.visibility = 'hidden'; },
        }))));
      return h('tr', { 'data-shot': id },
        h('td', {}, id), h('td', { class: 'num' }, `${done.length} / ${tasks.length}`), h('td', {}, thumbs),
        h('td', {}, h('button', {
          'data-shot': id, disabled: !ready, title: ready ? `play shot ${id} alone` : 'its segments are not all done',
          onclick: () => playShot(j, id, tasks.length),
        }, 'Play shot')));
    }));
}

// Plays one shot in the player under the job's page.
function playShot(j, shot, segments) {
  const box = document.getElementById('shot-player');
  if (!box) return;
  const video = h('video', { controls: true, preload: 'metadata', id: 'shot-video', autoplay: true });
  video.src = `/api/jobs/${encodeURIComponent(j.id)}/shots/${encodeURIComponent(shot)}/preview`;
  box.replaceChildren(h('h2', {}, `Shot ${shot}`),
    h('p', { class: 'muted', id: 'shot-caption' },
      j.state === 'done' ? 'cut from the film' : `its ${segments} segment${segments === 1 ? '' : 's'}, finished`),
    video);
  video.play().catch(() => {});
  box.scrollIntoView({ block: 'nearest' });
}

// The job's player: its film once done; before, the film from its start through the last contiguous finished
// segment, picture and sound, swapped for a longer one as segments land (keeping the playing position).
async function updatePlayer(j) {
  const box = document.getElementById('job-player');
  if (!box) return;
  const base = `/api/jobs/${encodeURIComponent(j.id)}`;
  let src = null, caption = '';
  if (j.state === 'done') {
    src = `${base}/film`;
    caption = 'Film';
  } else if (j.tasks_done > 0 && !finished(j.state)) {
    if (box.dataset.asked === String(j.tasks_done)) return;  // asked already for this many finished tasks
    box.dataset.asked = String(j.tasks_done);
    try {
      const r = await fetch(`${base}/preview`, { headers: { Range: 'bytes=0-0' }, credentials: 'same-origin' });
      const have = r.ok ? r.headers.get('X-Reelfarm-Preview') : null;
      if (!have || have === 'film') return;
      const [n, total] = have.split('/');
      src = `${base}/preview?segments=${n}`;
      caption = `Preview: the first ${n} of ${total} segments (grows as they finish)`;
    } catch (e) { return; }
  }
  if (!src) { box.replaceChildren(); delete box.dataset.src; return; }
  if (box.dataset.src === src) return;
  box.dataset.src = src;
  let video = box.querySelector('video');
  if (!video) {
    video = h('video', { controls: true, preload: 'metadata', id: 'player' });
    box.replaceChildren(h('p', { class: 'muted', id: 'player-caption' }), video);
  }
  const at = video.currentTime, playing = !video.paused && !video.ended;
  video.src = src;
  video.dataset.kind = j.state === 'done' ? 'film' : 'preview';
  if (at > 0) {
    const seek = () => { video.currentTime = Math.min(at, video.duration || at); };
    video.addEventListener('loadedmetadata', seek, { once: true });
  }
  if (playing) video.play().catch(() => {});
  box.querySelector('#player-caption').textContent = caption;
}

function legend(names) {
  return h('p', { class: 'legend' }, names.map((n) => h('span', {}, h('i', { style: { background: color(n) } }), n)));
}

// A Gantt chart of attempts, one row per worker.
function gantt(attempts, now) {
  const workers = [...new Set(attempts.map((a) => a.worker))].sort();
  if (attempts.length === 0) return h('p', { class: 'muted' }, 'No attempts yet.');
  const t0 = Math.min(...attempts.map((a) => a.started_at));
  const t1 = Math.max(now, ...attempts.map((a) => a.ended_at || now));
  const left = 160, width = Math.max(400, (document.getElementById('view').clientWidth || 900) - 40), row = 18;
  const x = (t) => left + ((t - t0) / Math.max(1e-3, t1 - t0)) * (width - left - 10);
  const height = workers.length * row + 24;
  const chart = svg('svg', { class: 'gantt', width, height, viewBox: `0 0 ${width} ${height}` });
  workers.forEach((w, i) => {
    chart.append(svg('text', { x: 4, y: i * row + 13 }, w.length > 24 ? w.slice(0, 24) + '…' : w));
  });
  for (const a of attempts) {
    const i = workers.indexOf(a.worker);
    const end = a.ended_at || now;
    const r = svg('rect', { x: x(a.started_at), y: i * row + 3, width: Math.max(1, x(end) - x(a.started_at)),
                            height: row - 6, fill: color(a.outcome || 'running') });
    const what = `${a.job}:${a.key} #${a.number} ${a.outcome || 'running'} ${duration(end - a.started_at)}`;
    r.append(svg('title', {}, what + (a.error ? ' — ' + a.error : '')));
    chart.append(r);
  }
  chart.append(svg('text', { x: left, y: height - 6 }, clock(t0)));
  chart.append(svg('text', { x: width - 80, y: height - 6 }, clock(t1)));
  return chart;
}

async function workersView(root, force) {
  if (!force && Date.now() - state.workersAt < 2000 && root.dataset.view === 'workers') return;
  state.workersAt = Date.now();
  const offset = Math.max(0, parseInt(new URLSearchParams(location.hash.split('?')[1] || '').get('offset') || '0', 10));
  let page;
  try { page = await api(`/api/workers?offset=${offset}`); } catch (e) {
    show(root, h('h1', {}, 'Workers'), h('p', { class: 'error' }, e.message));
    return;
  }
  const states = Object.entries(page.states || {}).map(([k, v]) => `${v} ${k}`).join(', ');
  const refused = Object.entries(page.refused || {}).map(([k, v]) => `${v} ${k}`).join(', ');
  const total = page.total || page.workers.length;
  root.dataset.view = 'workers';
  show(root, 
    h('h1', {}, `Workers (${page.connected || 0} connected)`),
    h('p', { class: 'muted' }, states || 'none seen', refused ? ` · refused: ${refused}` : '',
      page.capacity ? ` · capacity ${page.capacity}` : ''),
    h('table', { id: 'workers' },
      h('tr', {}, h('th', {}, 'Worker'), h('th', {}, 'State'), h('th', {}, 'Engines'), h('th', {}, 'Device'),
        h('th', { class: 'num' }, 'Memory'), h('th', { class: 'num' }, 'Busy / slots'), h('th', {}, 'Running'),
        h('th', {}, 'Tags'), h('th', { class: 'num' }, 'Last heard'),
        h('th', {}, '')),
      page.workers.map((w) => h('tr', {},
        h('td', {}, w.name, ' ', h('span', { class: 'muted' }, w.id)), h('td', {}, w.state),
        h('td', {}, w.engines.join(', ')), h('td', {}, w.device),
        h('td', { class: 'num' }, w.memory_bytes ? size(w.memory_bytes) : '—'),
        h('td', { class: 'num' }, `${w.busy} / ${w.slots}`),
        h('td', { class: 'tasks' }, (w.tasks || []).map((t) => {
          const [job, key] = [t.slice(0, t.indexOf(':')), t.slice(t.indexOf(':') + 1)];
          return h('a', { href: `#/job/${encodeURIComponent(job)}`, title: t }, key);
        }).flatMap((a, i) => (i ? [', ', a] : [a]))),
        h('td', {}, w.tags.join(', ')),
        h('td', { class: 'num' }, w.seconds_since_seen >= 0 ? `${w.seconds_since_seen.toFixed(1)} s ago` : '—'),
        h('td', {}, w.state === 'disabled'
          ? h('button', { 'data-action': 'enable', onclick: () => toggleWorker(w.id, 'enable') }, 'Enable')
          : w.state === 'alive'
            ? [h('button', { 'data-action': 'disable', onclick: () => toggleWorker(w.id, 'disable'),
                             title: 'No new task goes to it; its running tasks finish; it stays connected' }, 'Disable'),
               ' ',
               h('button', { 'data-action': 'drain', onclick: () => toggleWorker(w.id, 'drain'),
                             title: 'It takes no new task, finishes its running ones, then leaves (the process exits)' },
                 'Drain')]
            : null)))),
    h('p', {},
      offset > 0 ? h('a', { href: `#/workers?offset=${Math.max(0, offset - 500)}` }, '← previous') : null, ' ',
      offset + page.workers.length < total ? h('a', { href: `#/workers?offset=${offset + 500}` }, 'next →') : null));
}

async function toggleWorker(id, action) {
  try {
    const r = await api(`/api/workers/${encodeURIComponent(id)}/${action}`, { method: 'POST', body: {} });
    toast(`worker ${r.id}: ${r.state}`);
  } catch (e) {
    toast(`${action} failed: ${e.message}`);
  }
  render(true);
}

function submitView(root) {
  if (root.dataset.view === 'submit') return;  // keep what the user typed
  root.dataset.view = 'submit';
  const result = h('div', { id: 'result' });
  const text = h('textarea', {
    name: 'storyboard', id: 'storyboard', placeholder: 'title: …\noutput: …\nmodel: …\nshots: …' });
  const accept = '.yaml,.yml,.json,text/yaml,application/json';
  const file = h('input', { type: 'file', accept, onchange: async (e) => {
    const f = e.target.files[0];
    if (f) { text.value = await f.text(); source.value = f.name; }
  } });
  const images = h('input', { type: 'file', name: 'images', multiple: true, accept: 'image/*' });
  const priority = h('input', { type: 'number', name: 'priority', value: 0 });
  const source = h('input', { type: 'text', name: 'source', value: 'upload' });
  const form = h('form', { class: 'submit', id: 'submit-form', onsubmit: async (e) => {
    e.preventDefault();
    result.replaceChildren(h('p', { class: 'muted' }, 'Submitting…'));
    const encoded = {};
    for (const f of images.files) encoded[f.name] = await base64(f);
    try {
      const r = await api('/api/jobs', { method: 'POST', body: {
        storyboard: text.value, priority: parseInt(priority.value, 10) || 0, source: source.value, images: encoded } });
      result.replaceChildren(h('p', {}, 'Submitted: ', h('a', { href: `#/job/${r.job}`, id: 'submitted' }, r.job),
        ` (${r.tasks} tasks, ${r.frames} frames)`));
    } catch (err) {
      show(result,
        h('p', { class: 'error', id: 'submit-error' }, err.field ? `${err.field}: ` : '',
          err.issues.length ? err.message.split('\n')[0] : err.message),
        err.issues.length ? h('pre', { class: 'issues' }, err.issues.join('\n')) : null);
    }
  } },
  h('label', {}, 'Storyboard file (YAML or JSON)'), file,
  h('label', { for: 'storyboard' }, 'Storyboard'), text,
  h('label', {}, 'Images it names (keyframes, references; by file name as the storyboard writes it)'), images,
  h('label', {}, 'Priority'), priority,
  h('label', {}, 'Source name'), source,
  h('p', {}, h('button', { type: 'submit' }, 'Submit')));
  show(root, h('h1', {}, 'Submit a storyboard'), form, result);
}

function base64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function timelineView(root, force) {
  if (!force && Date.now() - state.timelineAt < 2000 && root.dataset.view === 'timeline') return;
  state.timelineAt = Date.now();
  const seconds = parseInt(new URLSearchParams(location.hash.split('?')[1] || '').get('seconds') || '600', 10);
  let t;
  try { t = await api(`/api/timeline?seconds=${seconds}`); } catch (e) {
    show(root, h('h1', {}, 'Timeline'), h('p', { class: 'error' }, e.message));
    return;
  }
  root.dataset.view = 'timeline';
  show(root, 
    h('h1', {}, 'Timeline'),
    h('p', {}, [600, 3600, 86400].map((s) => h('a', { href: `#/timeline?seconds=${s}`, style: { marginRight: '1em' } },
      `last ${duration(s)}`))),
    legend(['running', 'done', 'failed', 'cancelled', 'lost']),
    h('div', { id: 'timeline' }, gantt(t.attempts, t.now)));
}

function header() {
  const s = state.snapshot;
  const farm = document.getElementById('farm');
  if (!s) { farm.textContent = ''; return; }
  const f = s.farm;
  const counts = {};
  for (const j of s.jobs) counts[j.state] = (counts[j.state] || 0) + 1;
  const jobs = Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  farm.textContent = `jobs: ${jobs} · tasks: ${f.tasks_running} running, ${f.tasks_ready} ready · `
    + `workers: ${s.workers.connected}, ${f.slots_busy} / ${f.slots} slots busy`;
}

// Draws the view the address names; `force` refetches what it shows.
async function render(force) {
  const [view, arg] = (location.hash.replace(/^#\//, '') || 'jobs').split('?')[0].split('/');
  const root = document.getElementById('view');
  if (state.view !== view) { delete root.dataset.view; state.detail = state.view === 'job' ? null : state.detail; }
  state.view = view;
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.dataset.view === view);
  header();
  if (view === 'job' && arg) return jobView(root, decodeURIComponent(arg), force);
  if (view === 'workers') return workersView(root, force);
  if (view === 'submit') return submitView(root);
  if (view === 'timeline') return timelineView(root, force);
  delete root.dataset.view;
  return jobsView(root);
}

function connect() {
  const live = document.getElementById('live');
  const events = new EventSource('/api/events');
  events.addEventListener('snapshot', (e) => {
    state.snapshot = JSON.parse(e.data);
    live.classList.add('on');
    document.body.dataset.version = state.snapshot.version;
    render(false);
  });
  events.onerror = () => live.classList.remove('on');
}

window.addEventListener('hashchange', () => render(true));
window.addEventListener('DOMContentLoaded', () => { connect(); render(true); });
