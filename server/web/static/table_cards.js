// Tables become cards on a phone: each cell is labelled with its column's heading (data-label),
// which the stylesheet shows before the value below 600 px. One script for every table, so no
// template needs to know. Matrices of figures (.table--numbers) stay tables and scroll sideways;
// a table of two columns (a name and its figure) already fits a phone and stays a table.
(() => {
  const headingsOf = (table) => {
    const rows = table.tHead ? table.tHead.rows : [];
    if (!rows.length) return null;
    // The last heading row names the columns; a colspan covers as many columns as it spans.
    const labels = [];
    for (const cell of rows[rows.length - 1].cells) {
      // The heading as seen: without the sort arrow and the screen-reader hint of a sortable column.
      const heading = cell.cloneNode(true);
      heading.querySelectorAll(".visually-hidden").forEach((hint) => hint.remove());
      const text = heading.textContent.replace(/[▲▼]/g, "").replace(/\s+/g, " ").trim();
      for (let span = 0; span < cell.colSpan; span += 1) labels.push(text);
    }
    return labels;
  };
  for (const table of document.querySelectorAll("table.table:not(.table--numbers)")) {
    const labels = headingsOf(table);
    if (!labels || labels.length <= 2) continue;
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        let column = 0;
        for (const cell of row.cells) {
          // A cell across every column is a message ("没有记录"), not a value of one column.
          const label = cell.colSpan < labels.length ? labels[column] : "";
          if (label && !cell.hasAttribute("data-label")) cell.dataset.label = label;
          // An empty cell would leave a label with nothing beside it on the card.
          if (!cell.textContent.trim() && !cell.querySelector("img, svg, input, select, button")) cell.dataset.empty = "";
          column += cell.colSpan;
        }
      }
    }
    table.classList.add("table--cards");
  }
})();
