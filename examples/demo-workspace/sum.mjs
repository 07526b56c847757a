// Adds two numbers. (It has a bug: the demo's agent finds and fixes it.)
export const add = (a, b) => a - b;
