// On a phone the site menu (navigation and the logged-in user) folds behind the 菜单 button.
// The button only appears once this script runs: without it the menu simply stays open, and on
// wider screens the stylesheet ignores the folding altogether.
(() => {
  const button = document.querySelector(".menu-toggle");
  const header = button && button.closest(".site-header");
  if (!header) return;
  const setOpen = (open) => {
    button.setAttribute("aria-expanded", String(open));
    header.dataset.menu = open ? "open" : "closed";
  };
  setOpen(false);
  button.hidden = false;
  button.addEventListener("click", () => setOpen(header.dataset.menu !== "open"));
  // Escape folds an open menu and gives the focus back to its button, as for any disclosure.
  header.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && header.dataset.menu === "open") {
      setOpen(false);
      button.focus();
    }
  });
})();
