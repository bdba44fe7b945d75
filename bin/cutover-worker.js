#!/usr/bin/env node
// The cutover worker as installed from the package (`npm pack`): the compiled worker in dist/.
// In a checkout, `npm run worker` builds first and runs the same file.
require('../dist/workers/main.js');
