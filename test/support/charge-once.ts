// Records one charge with the simulated provider under argv[2], then exits:
// test/provider-durability.test.ts runs it under strace to see its syscalls.
import { SimulatedProvider } from '../../payments/simulated.ts';

const provider = await SimulatedProvider.create(process.argv[2]!);
const result = await provider.charge({ reservationId: '1.durabledurable1', amountCents: 500, token: 'tok_ok', lines: [] }, 1_000);
console.log(JSON.stringify(result));
