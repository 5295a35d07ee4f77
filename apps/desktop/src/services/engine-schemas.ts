/**
 * The Engine API replies the desktop reads, as zod schemas (they cross a process boundary).
 * Loose objects: the engine may add fields, and only what the UI shows is required.
 */
import { z } from 'zod';

export const versionSchema = z.looseObject({
  Version: z.string(),
  ApiVersion: z.string(),
  Os: z.string().optional(),
  Arch: z.string().optional(),
});

export const infoSchema = z.looseObject({
  NCPU: z.number().optional(),
  MemTotal: z.number().optional(),
  Containers: z.number().optional(),
  ContainersRunning: z.number().optional(),
  Images: z.number().optional(),
});

export const imageListSchema = z.array(
  z.looseObject({
    Id: z.string(),
    RepoTags: z.array(z.string()).nullish(),
    RepoDigests: z.array(z.string()).nullish(),
    Size: z.number(),
    Created: z.number(),
    Containers: z.number().optional(),
  }),
);

export const imageDeleteSchema = z.array(
  z.looseObject({ Untagged: z.string().optional(), Deleted: z.string().optional() }),
);

const dockerPortSchema = z.looseObject({
  PrivatePort: z.number(),
  PublicPort: z.number().optional(),
  Type: z.string(),
  IP: z.string().optional(),
});

export const containerListSchema = z.array(
  z.looseObject({
    Id: z.string(),
    Names: z.array(z.string()).nullish(),
    Image: z.string(),
    Command: z.string().optional(),
    Created: z.number(),
    State: z.string(),
    Status: z.string().optional(),
    Ports: z.array(dockerPortSchema).nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
  }),
);

const portBindingsSchema = z
  .record(
    z.string(),
    z.array(z.looseObject({ HostIp: z.string().optional(), HostPort: z.string() })).nullish(),
  )
  .nullish();

export const containerInspectSchema = z.looseObject({
  Id: z.string(),
  Name: z.string(),
  Image: z.string(),
  Created: z.string(),
  State: z.looseObject({
    Status: z.string(),
    Running: z.boolean(),
    ExitCode: z.number(),
    StartedAt: z.string().optional(),
    FinishedAt: z.string().optional(),
  }),
  Config: z.looseObject({
    Image: z.string().optional(),
    Tty: z.boolean().optional(),
    Cmd: z.array(z.string()).nullish(),
    Entrypoint: z.array(z.string()).nullish(),
    Env: z.array(z.string()).nullish(),
    WorkingDir: z.string().optional(),
  }),
  NetworkSettings: z
    .looseObject({ IPAddress: z.string().optional(), Ports: portBindingsSchema })
    .nullish(),
});

export const createdSchema = z.looseObject({ Id: z.string() });

export const eventSchema = z.looseObject({
  Type: z.string().optional(),
  Action: z.string().optional(),
  Actor: z.looseObject({ ID: z.string().optional() }).optional(),
});

export const progressSchema = z.looseObject({
  status: z.string().optional(),
  id: z.string().optional(),
  progressDetail: z
    .looseObject({ current: z.number().optional(), total: z.number().optional() })
    .optional(),
});
