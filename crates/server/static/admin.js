// The operators console: a single page over /api/admin.
"use strict";
