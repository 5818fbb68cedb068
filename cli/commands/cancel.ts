import { Command } from 'commander';
import { connectClient, runNotFound } from '../client';

export function register(program: Command): void {
  program.command('cancel <run-id>')
    .description('Cancel a run: its image workflows are cancelled and running activities stop at their next heartbeat. Outputs already written stay; nothing half-written is left.')
    .action(async (runId: string) => {
      const { client, close } = await connectClient();
      try {
        await client.workflow.getHandle(runId).cancel().catch((e) => runNotFound(runId, e));
        process.stdout.write(`cancellation requested for ${runId}\n`);
      } finally {
        await close();
      }
    });
}
