// Values test/helpers/global-setup.ts provides to the integration tests: read them with inject('temporalAddress').
declare module 'vitest' {
  export interface ProvidedContext {
    /** `127.0.0.1:<port>` of the shared Temporal dev server (in-memory, Sluice search attributes registered). */
    temporalAddress: string;
    /** `postgres://sluice@127.0.0.1:<port>/sluice` of the shared, freshly initialised PostgreSQL cluster. */
    databaseUrl: string;
    /** A temporary SLUICE_HOME for the run, removed afterwards. */
    sluiceHome: string;
    temporalUiUrl: string | null;
  }
}

export {};
