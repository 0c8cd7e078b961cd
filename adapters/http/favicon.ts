/**
 * The broker's favicon: a key in a rounded square. SVG, served at /favicon.svg and at
 * /favicon.ico (where browsers look when a page names none), linked from every page's head.
 */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1a4fb4"/><circle cx="12" cy="16" r="6" fill="none" stroke="#fff" stroke-width="3"/><path d="M18 16h10M24 16v5M28 16v4" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>`;
