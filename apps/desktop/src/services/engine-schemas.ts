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
    ImageID: z.string().optional(),
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

const cpuStatsSchema = z.looseObject({
  cpu_usage: z.looseObject({
    total_usage: z.number().default(0),
    percpu_usage: z.array(z.number()).nullish(),
  }),
  system_cpu_usage: z.number().optional(),
  online_cpus: z.number().optional(),
});

export const statsSchema = z.looseObject({
  read: z.string().optional(),
  cpu_stats: cpuStatsSchema,
  precpu_stats: cpuStatsSchema.partial().optional(),
  memory_stats: z.looseObject({
    usage: z.number().optional(),
    limit: z.number().optional(),
    stats: z.record(z.string(), z.number()).optional(),
  }),
  networks: z
    .record(z.string(), z.looseObject({ rx_bytes: z.number(), tx_bytes: z.number() }))
    .optional(),
});
export type StatsJson = z.infer<typeof statsSchema>;

export const execCreatedSchema = z.looseObject({ Id: z.string() });

export const imageHistoryListSchema = z.array(
  z.looseObject({
    Id: z.string(),
    Created: z.number(),
    CreatedBy: z.string().optional(),
    Size: z.number(),
    Tags: z.array(z.string()).nullish(),
    Comment: z.string().optional(),
  }),
);

export const imagePruneSchema = z.looseObject({
  ImagesDeleted: z
    .array(z.looseObject({ Untagged: z.string().optional(), Deleted: z.string().optional() }))
    .nullish(),
  SpaceReclaimed: z.number().optional(),
});

export const volumePruneSchema = z.looseObject({
  VolumesDeleted: z.array(z.string()).nullish(),
  SpaceReclaimed: z.number().optional(),
});

export const volumeListSchema = z.looseObject({
  Volumes: z
    .array(
      z.looseObject({
        Name: z.string(),
        Driver: z.string(),
        Mountpoint: z.string(),
        CreatedAt: z.string().optional(),
        Labels: z.record(z.string(), z.string()).nullish(),
        UsageData: z.looseObject({ Size: z.number(), RefCount: z.number() }).nullish(),
      }),
    )
    .nullish(),
});

export const dfVolumesSchema = z.looseObject({
  Volumes: z
    .array(
      z.looseObject({
        Name: z.string(),
        UsageData: z.looseObject({ Size: z.number(), RefCount: z.number() }).nullish(),
      }),
    )
    .nullish(),
});

export const networkListSchema = z.array(
  z.looseObject({
    Id: z.string(),
    Name: z.string(),
    Driver: z.string().optional(),
    Scope: z.string().optional(),
    Internal: z.boolean().optional(),
    Created: z.string().optional(),
    IPAM: z
      .looseObject({
        Config: z
          .array(z.looseObject({ Subnet: z.string().optional(), Gateway: z.string().optional() }))
          .nullish(),
      })
      .nullish(),
  }),
);

/** What a container list entry says about its mounts and networks (for "used by"). */
export const containerUsesSchema = z.array(
  z.looseObject({
    Id: z.string(),
    Names: z.array(z.string()).nullish(),
    Mounts: z
      .array(z.looseObject({ Type: z.string().optional(), Name: z.string().optional() }))
      .nullish(),
    NetworkSettings: z
      .looseObject({
        Networks: z
          .record(z.string(), z.looseObject({ NetworkID: z.string().optional() }))
          .nullish(),
      })
      .nullish(),
  }),
);

export const infoRootSchema = z.looseObject({ DockerRootDir: z.string().optional() });
