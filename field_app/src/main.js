// The phone app's entry point: registers the service worker and starts the screens.
if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js", { scope: "./" });
document.getElementById("app").textContent = "暗访现场";
