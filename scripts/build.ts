// Builds the Tact contracts (filled in by the contracts work).
console.log('build: no contracts yet');
