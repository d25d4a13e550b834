// Each test file's entry point: what src/main.ts does first in a real process.
import { useValidationMessages } from '../../src/validation-messages.js';

useValidationMessages();
