// Vite bundles imported stylesheets (xterm.js's) into the page's CSS file.
declare module '*.css';
