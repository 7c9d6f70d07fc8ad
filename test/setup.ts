// Root hooks shared by every test file; filled in as the shared helpers grow.
export const mochaHooks = {};
