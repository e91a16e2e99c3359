// SPDX-License-Identifier: Apache-2.0
// A text diff for the notices screen (notices.js): the shortest edit script
// between two texts (Myers' O((n+m)·D) algorithm, i.e. a longest common
// subsequence) over tokens — a word, a run of spaces or one character of
// punctuation in Latin text, one character in Chinese and Japanese, where
// words are not spaced. Pure: no DOM here.

// Han, kana and hangul one by one; else words (letters, digits, ' and - inside), spaces, or one character.
const TOKEN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]|[\p{L}\p{N}_]+(?:['’-][\p{L}\p{N}_]+)*|\s+|[^]/gu;
export const DIFF_EDITS_MAX = 2000; // beyond this many edits the middle is shown replaced whole

export const tokens = (s) => String(s).match(TOKEN) || [];

/** The edit script from a to b (token arrays) as [[op, token], …]: op '=' kept, '-' removed, '+' inserted. */
function myers(a, b, editsMax) {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace = []; // trace[d]: v for k in [-d, d] before step d (index k + d)
  let found = -1;
  for (let d = 0; d <= Math.min(max, editsMax); d++) {
    trace.push(v.slice(off - d, off + d + 1));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) { x++; y++; }
      v[off + k] = x;
      if (x >= n && y >= m) { found = d; break; }
    }
    if (found >= 0) break;
  }
  if (found < 0) return null;
  const out = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const w = trace[d];
    const at = (k) => w[k + d];
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) { x--; y--; out.push(['=', a[x]]); }
    if (prevK === k + 1) out.push(['+', b[--y]]);
    else out.push(['-', a[--x]]);
  }
  while (x > 0 && y > 0) { x--; y--; out.push(['=', a[x]]); }
  return out.reverse();
}

/**
 * The diff of two texts as runs [[op, text], …] (op '=', '-', '+'),
 * adjacent tokens of the same op joined. Common ends are cut first, so an
 * edit in a long notice costs little; past DIFF_EDITS_MAX edits the middle
 * is one removal and one insertion.
 */
export function diffText(before, after, editsMax = DIFF_EDITS_MAX) {
  const a = tokens(before);
  const b = tokens(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const script = myers(midA, midB, editsMax) || [...midA.map((t) => ['-', t]), ...midB.map((t) => ['+', t])];
  const all = [...a.slice(0, head).map((t) => ['=', t]), ...script, ...a.slice(a.length - tail).map((t) => ['=', t])];
  const segs = [];
  for (const [op, tok] of all) {
    const last = segs[segs.length - 1];
    if (last && last.op === op) last.toks.push(tok);
    else segs.push({ op, toks: [tok] });
  }
  slideLeft(segs);
  return segs.filter((g) => g.toks.length).map((g) => [g.op, g.toks.join('')]);
}

/** A token a change best ends at: spaces, or punctuation that ends a phrase. */
const BOUNDARY = /^(\s+|[。．，、；：！？,.;:!?）)」』"'])$/u;
const score = (before, change) => (BOUNDARY.test(change[change.length - 1]) ? 2 : 0)
  + (!before.length || BOUNDARY.test(before[before.length - 1]) ? 1 : 0);

/**
 * An insertion or a removal alone between kept text can often sit in more
 * than one place ("我们[也会…。我们]为" or "[我们也会…。]我们为"); it is put
 * where it ends at a space or a phrase's punctuation and starts after one,
 * the leftmost such place, so an added sentence shows as that sentence.
 */
function slideLeft(segs) {
  for (let i = 1; i < segs.length; i++) {
    const g = segs[i].toks;
    const before = segs[i - 1];
    if (segs[i].op === '=' || before.op !== '=' || (segs[i + 1] && segs[i + 1].op !== '=')) continue;
    if (!segs[i + 1]) segs.push({ op: '=', toks: [] });
    const b = before.toks;
    const a = segs[i + 1].toks;
    const left = () => { g.unshift(b.pop()); a.unshift(g.pop()); };
    const right = () => { g.push(a.shift()); b.push(g.shift()); };
    while (b.length && b[b.length - 1] === g[g.length - 1]) left();
    let best = 0;
    let bestScore = score(b, g);
    let steps = 0;
    while (a.length && a[0] === g[0]) {
      right();
      steps++;
      const sc = score(b, g);
      if (sc > bestScore) { best = steps; bestScore = sc; }
    }
    for (; steps > best; steps--) left();
  }
}

/** True when the runs change anything. */
export const changed = (runs) => runs.some(([op]) => op !== '=');

/** Runs with each stretch of changes as one removal then one insertion, kept runs joined. */
function normalise(runs) {
  const out = [];
  let del = '';
  let ins = '';
  const flush = () => {
    if (del) out.push(['-', del]);
    if (ins) out.push(['+', ins]);
    del = '';
    ins = '';
  };
  for (const [op, text] of runs) {
    if (op === '-') del += text;
    else if (op === '+') ins += text;
    else {
      flush();
      const last = out[out.length - 1];
      if (last && last[0] === '=') last[1] += text;
      else out.push(['=', text]);
    }
  }
  flush();
  return out;
}

/**
 * The runs made readable, as diff-match-patch's semantic clean-up does: a
 * kept stretch no longer than the changes on either side of it ("the", a
 * space between two rewritten phrases) is shown removed and inserted, so a
 * rewritten sentence reads as old text then new rather than interleaved
 * words. Still exact: the kept and removed parts give the old text, the
 * kept and inserted the new.
 */
export function tidy(runs) {
  let out = normalise(runs);
  for (let again = true; again;) {
    again = false;
    const side = (from, step) => {
      let del = 0;
      let ins = 0;
      for (let j = from; j >= 0 && j < out.length && out[j][0] !== '='; j += step) {
        if (out[j][0] === '-') del += out[j][1].length;
        else ins += out[j][1].length;
      }
      return Math.max(del, ins);
    };
    for (let i = 1; i < out.length - 1; i++) {
      if (out[i][0] !== '=') continue;
      const n = out[i][1].length;
      if (n <= side(i - 1, -1) && n <= side(i + 1, 1)) {
        out.splice(i, 1, ['-', out[i][1]], ['+', out[i][1]]);
        again = true;
      }
    }
    out = normalise(out);
  }
  return out;
}
