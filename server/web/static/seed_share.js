// A draw's random share, generated in the auditor's own browser: the server it is meant to
// check never sees where it came from (server/draws/web/seed_contribution.py).
document.querySelectorAll("[data-seed-share]").forEach((button) => {
  button.addEventListener("click", () => {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    const field = document.getElementById(button.dataset.seedShare);
    field.value = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  });
});
