namespace SandboxRunner.Boxes.Docker;

internal sealed record BindMount(string Source, string Target, bool ReadOnly);

/// <summary>
/// Everything Docker needs to create one container: the Docker shape of a <see cref="BoxSpec"/> (binds, volumes,
/// <c>container:&lt;id&gt;</c> network modes, docker-init), and of the backend's own helpers (proxy, holders, probe).
/// </summary>
internal sealed record ContainerSpec
{
    public required string Image { get; init; }
    public required IReadOnlyList<string> Command { get; init; }
    public required string User { get; init; }
    public required string WorkingDirectory { get; init; }
    public required IReadOnlyDictionary<string, string> Environment { get; init; }
    public IReadOnlyList<BindMount> Mounts { get; init; } = [];

    /// <summary>Anonymous volumes (their mount points): scratch folders, filled through the archive API before start; they go with the container.</summary>
    public IReadOnlyList<string> Volumes { get; init; } = [];

    /// <summary>Containers whose volumes this one mounts too (<c>id:ro</c>): a look beside a stopped box (<see cref="ITaskBox.LookBesideAsync"/>).</summary>
    public IReadOnlyList<string> VolumesFrom { get; init; } = [];
    public required IReadOnlyDictionary<string, string> Labels { get; init; }
    public required ResourceLimits Limits { get; init; }

    public bool ReadOnlyRootFilesystem { get; init; } = true;

    /// <summary>Docker network mode: <c>none</c>, <c>bridge</c>, a network name, or <c>container:&lt;id&gt;</c>.</summary>
    public string NetworkMode { get; init; } = "none";

    /// <summary>Whether docker-init runs as PID 1; off when <see cref="Entrypoint"/> is the image's own init.</summary>
    public bool Init { get; init; } = true;

    public IReadOnlyList<string>? Entrypoint { get; init; }

    /// <summary>Capabilities given back after all are dropped: none for what the agent runs; a sealed init's, which it gives up.</summary>
    public IReadOnlyList<string> CapAdd { get; init; } = [];

    /// <summary><c>name:address</c> entries for /etc/hosts.</summary>
    public IReadOnlyList<string> ExtraHosts { get; init; } = [];

    /// <summary>json-file <c>max-size</c>: what the engine keeps of the output on its own disk.</summary>
    public long? MaxLogBytes { get; init; }

    /// <summary>Standard input stays open until written once: how the proxy's secrets arrive, never in its configuration.</summary>
    public bool OpenStdin { get; init; }

    /// <summary>DNS servers; <c>127.0.0.1</c> with nothing listening there means no name resolves but /etc/hosts.</summary>
    public IReadOnlyList<string> Dns { get; init; } = [];

    public string? Runtime { get; init; }

    /// <summary>
    /// A box's container. A sealed init becomes the entrypoint: the container starts as root with only what changing
    /// uid takes (Docker gives a non-root user no capability to use), and the init hands the command the spec's user
    /// with no capability in any set and gives up its own; its working directory becomes the init's to enter as that
    /// user (root without DAC_OVERRIDE could not enter a 0700 folder of the agent's).
    /// </summary>
    public static ContainerSpec ForBox(BoxSpec box, IReadOnlyDictionary<string, string> labels, string networkMode)
    {
        var spec = new ContainerSpec
        {
            Image = box.Image,
            Entrypoint = box.Entrypoint,
            Command = box.Command,
            User = box.User,
            WorkingDirectory = box.WorkingDirectory,
            Environment = box.Environment,
            Mounts = box.Workspace.OfType<BoxMount.HostFolder>().Select(m => new BindMount(m.Source, m.Target, m.ReadOnly)).ToList(),
            Volumes = box.Workspace.OfType<BoxMount.Scratch>().Select(m => m.Target).ToList(),
            Labels = labels,
            Limits = box.Limits,
            ReadOnlyRootFilesystem = box.ReadOnlyRoot,
            MaxLogBytes = box.MaxLogBytes,
            NetworkMode = networkMode,
            Runtime = box.Runtime,
        };
        return box.Init is { } init ? spec.Sealed(init.Path, init.Undumpable) : spec;
    }

    /// <summary>This container started through the image's sealed init at <paramref name="init"/> (see <see cref="SealedInit"/>).</summary>
    public ContainerSpec Sealed(string init, bool undumpable) => this with
    {
        Entrypoint = [init, "--user", User, "--cwd", WorkingDirectory, .. undumpable ? (string[])["--undumpable"] : [], "--"],
        Init = false,
        User = "0:0",
        WorkingDirectory = "/",
        CapAdd = [.. CapAdd, .. SealedInit.Capabilities],
    };
}
