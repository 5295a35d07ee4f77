export { startDashboard, type Dashboard, type DashboardOptions } from './server/dashboard.js';
export { createBerthServices, type BerthServices } from './services/index.js';
export type { BerthApi } from './shared/contract.js';
