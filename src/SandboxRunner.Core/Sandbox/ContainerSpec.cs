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
    public required IReadOnlyDictionary<string, string> Labels { get; init; }
    public required ResourceLimits Limits { get; init; }

    /// <summary>False only for <c>danger-full-access</c>.</summary>
    public bool ReadOnlyRootFilesystem { get; init; } = true;

    /// <summary>Docker network mode: <c>none</c>, <c>bridge</c>, or a network name.</summary>
    public string NetworkMode { get; init; } = "none";
}
