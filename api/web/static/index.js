// The index page: only the language toggle is dynamic.

import { setupLanguage } from "./i18n.js";

setupLanguage();
document.body.dataset.ready = "true";
