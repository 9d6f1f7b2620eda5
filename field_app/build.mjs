// Builds the phone app into dist/: the app and its service worker bundled by esbuild, the static
// files copied, and the service worker told the exact list of shell files and their version
// (a hash of their bytes), so a new build replaces the cached shell as one piece.
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";

const root = new URL(".", import.meta.url).pathname;
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
cpSync(join(root, "static"), dist, { recursive: true });

await build({
  entryPoints: [join(root, "src/main.js")],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome100", "safari15"],
  outfile: join(dist, "app.js"),
  legalComments: "none",
});

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const shell = files(dist).map((path) => relative(dist, path)).sort();
const digest = createHash("sha256");
for (const name of shell) digest.update(name).update(readFileSync(join(dist, name)));
const version = digest.digest("hex").slice(0, 16);

await build({
  entryPoints: [join(root, "src/sw.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome100", "safari15"],
  outfile: join(dist, "sw.js"),
  legalComments: "none",
  define: {
    SHELL_VERSION: JSON.stringify(version),
    // "./" is the app's page itself (/field/); the worker script is not cached by itself.
    SHELL_FILES: JSON.stringify(["./", ...shell.filter((name) => name !== "index.html")]),
  },
});
writeFileSync(join(dist, "build.json"), JSON.stringify({ version, files: shell }, null, 2) + "\n");
console.log(`field app built: ${shell.length} files, version ${version}`);
