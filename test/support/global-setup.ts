import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { BOTS_MIGRATIONS } from '@tickwork/bots/migrations';
import { migrate } from '@tickwork/core';
import {
  defaultServiceUrls,
  dockerAvailable,
  managementReachable,
  postgresReachable,
  withDatabase,
  type ServiceUrls,
} from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    services: ServiceUrls;
    templateDatabase: string;
  }
}

/**
 * Once per `npm test`: finds PostgreSQL and RabbitMQ (local, or testcontainers when neither is reachable
 * and Docker is), and migrates a template database that every test file clones.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let services = defaultServiceUrls();
  const stops: Array<() => Promise<unknown>> = [];
  const pgProblem = await postgresReachable(services.postgresUrl);
  const mqProblem = await managementReachable(services.managementUrl);
  if (pgProblem || mqProblem) {
    if (!dockerAvailable()) {
      throw new Error(
        [
          'The tests need PostgreSQL and RabbitMQ (with the management plugin).',
          pgProblem && `PostgreSQL at ${services.postgresUrl}: ${pgProblem}`,
          mqProblem && `RabbitMQ management at ${services.managementUrl}: ${mqProblem}`,
          'Start them, set TEST_DATABASE_URL / TEST_AMQP_URL / TEST_RABBITMQ_MANAGEMENT_URL, or install Docker.',
        ]
          .filter(Boolean)
          .join('\n'),
      );
    }
    services = await startContainers(stops);
  }

  const templateDatabase = `tickwork_test_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: services.postgresUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase}`);
  await admin.query(`CREATE DATABASE ${templateDatabase}`);
  // The engine's migrations and the bots extension's, as `npm run migrate` applies them.
  await migrate(withDatabase(services.postgresUrl, templateDatabase), undefined, [BOTS_MIGRATIONS]);
  await admin.end();

  project.provide('services', services);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    const client = new pg.Client({ connectionString: services.postgresUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`);
    await client.end();
    for (const stop of stops.reverse()) await stop();
  };
}

async function startContainers(stops: Array<() => Promise<unknown>>): Promise<ServiceUrls> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const postgres = await new GenericContainer('postgres:16-alpine')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  stops.push(() => postgres.stop());
  const rabbit = await new GenericContainer('rabbitmq:4-management-alpine')
    .withExposedPorts(5672, 15672)
    .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
    .start();
  stops.push(() => rabbit.stop());
  return {
    postgresUrl: `postgres://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/postgres`,
    amqpUrl: `amqp://guest:guest@${rabbit.getHost()}:${rabbit.getMappedPort(5672)}`,
    managementUrl: `http://guest:guest@${rabbit.getHost()}:${rabbit.getMappedPort(15672)}`,
  };
}
