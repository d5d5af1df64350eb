// A module that fails to load.
throw new Error('module load failure');
