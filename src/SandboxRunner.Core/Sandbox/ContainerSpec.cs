namespace SandboxRunner.Sandbox;

public sealed record BindMount(string Source, string Target, bool ReadOnly);

public sealed record ResourceLimits(long MemoryBytes, double Cpus, long Pids, long TmpBytes);

/// <summary>Everything Docker needs to create one task container. Built by the run layer, applied verbatim here.</summary>
public sealed record ContainerSpec
{
    public required string Image { get; init; }
    public required IReadOnlyList<string> Command { get; init; }
    public required string User { get; init; }
    public required string WorkingDirectory { get; init; }
    public required IReadOnlyDictionary<string, string> Environment { get; init; }
    public required IReadOnlyList<BindMount> Mounts { get; init; }

    /// <summary>
    /// Anonymous volumes (their mount points): the copy transport's writable folders, filled through the
    /// archive API before start. They belong to the container and go with it.
    /// </summary>
    public IReadOnlyList<string> Volumes { get; init; } = [];
    public required IReadOnlyDictionary<string, string> Labels { get; init; }
    public required ResourceLimits Limits { get; init; }

    /// <summary>False only for <c>danger-full-access</c>.</summary>
    public bool ReadOnlyRootFilesystem { get; init; } = true;

    /// <summary>Docker network mode: <c>none</c>, <c>bridge</c>, a network name, or <c>container:&lt;id&gt;</c>.</summary>
    public string NetworkMode { get; init; } = "none";

    /// <summary>
    /// Whether the engine's own init (docker-init) runs as PID 1. Off when <see cref="Entrypoint"/> is an init
    /// of the image's (the task image's sealed one).
    /// </summary>
    public bool Init { get; init; } = true;

    /// <summary>Replaces the image's entrypoint (the runner's own helper containers).</summary>
    public IReadOnlyList<string>? Entrypoint { get; init; }

    /// <summary>Capabilities given back after all are dropped; empty for task containers.</summary>
    public IReadOnlyList<string> CapAdd { get; init; } = [];

    /// <summary><c>name:address</c> entries for /etc/hosts.</summary>
    public IReadOnlyList<string> ExtraHosts { get; init; } = [];

    /// <summary>
    /// What the engine keeps of the container's output on its own disk (json-file <c>max-size</c>); the
    /// runner stops a task whose output passes its log limit before that, so this only spares the engine.
    /// </summary>
    public long? MaxLogBytes { get; init; }

    /// <summary>
    /// Standard input is kept open until the runner writes to it once (<see cref="IContainerOperations.StartWithInputAsync"/>):
    /// the egress proxy's secrets arrive that way, never in its configuration.
    /// </summary>
    public bool OpenStdin { get; init; }

    /// <summary>DNS servers; <c>127.0.0.1</c> with nothing listening there means no name resolves but /etc/hosts.</summary>
    public IReadOnlyList<string> Dns { get; init; } = [];

    /// <summary>The OCI runtime the engine starts the container with (a name it lists, such as <c>runsc</c>); null for its default.</summary>
    public string? Runtime { get; init; }
}
