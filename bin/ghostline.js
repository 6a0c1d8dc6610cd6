#!/usr/bin/env node
"use strict";
// The command line lives in the bundle built by `npm run build:ts`.
const path = require("node:path");
const fs = require("node:fs");
const bundle = path.join(__dirname, "..", "dist", "cli.js");
if (!fs.existsSync(bundle)) {
  process.stderr.write("ghostline: dist/cli.js is missing; run `npm run build` first\n");
  process.exit(1);
}
require(bundle);
