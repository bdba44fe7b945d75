// The contract every other part imports; it imports nothing of ours.
export * from './names';
export * from './spec';
export * from './freeze';
export * from './approval';
export * from './schedules';
export * from './requests';
export * from './api';
export * from './analysis';
export * from './failures';
export * from './search-attributes';
