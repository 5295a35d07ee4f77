export * from './api/errors.js';
export * from './images/oci.js';
