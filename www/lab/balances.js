// @ts-check
// The balance table: each address's balance as every node computes it from its own chain,
// against what the run expects. A cell that differs is marked; the table says whether all agree.

/** @typedef {import('./lab.js').Lab} Lab */
/** @typedef {import('./nodes.js').LabNode} LabNode */

/** Draws the table into #balances; resolves whether every node has every expected balance.
 *  @param {Lab} lab @param {Record<string, string>} addrs label → address
 *  @param {Record<string, number>} expected label → coins @param {LabNode[]} nodes */
export async function drawBalances(lab, addrs, expected, nodes) {
  const table = /** @type {HTMLTableElement} */ (document.getElementById('balances'));
  const head = document.createElement('tr');
  for (const t of ['address', 'expected', 'relay', ...nodes.map((n) => `node ${n.id}`)]) {
    const th = document.createElement('th');
    th.textContent = t;
    head.append(th);
  }
  const rows = [head];
  let all = true;
  for (const [label, addr] of Object.entries(addrs)) {
    const tr = document.createElement('tr');
    tr.dataset.label = label;
    const name = document.createElement('th');
    name.textContent = label;
    name.title = addr;
    const want = document.createElement('td');
    want.textContent = String(expected[label]);
    tr.append(name, want);
    const got = [await lab.relay.balance(addr)];
    for (const n of nodes) got.push(Number(await n.node.getBalance(addr)));
    for (const g of got) {
      const td = document.createElement('td');
      const ok = g === expected[label];
      all &&= ok;
      td.textContent = `${g} ${ok ? '✓' : '✗'}`;
      td.className = ok ? 'ok' : 'bad';
      tr.append(td);
    }
    rows.push(tr);
  }
  table.replaceChildren(...rows);
  table.dataset.verdict = all ? 'pass' : 'fail';
  return all;
}
