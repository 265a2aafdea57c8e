namespace SandboxRunner.Boxes;

/// <summary>
/// Where tasks run: the one seam between the run layer and a container platform. It speaks of what a task needs
/// (a box from an image, a workspace, limits, a network intent) and never of how a platform provides it, so a
/// second platform (a swarm, a cluster) is a folder beside <c>Boxes/Docker</c> that implements this and passes the
/// backend contract tests. One per process, made by <c>Runs.BackendFactory</c>; every resource it creates carries
/// the <see cref="Labels"/> that let a later process find and remove it.
/// </summary>
public interface ITaskBackend : IAsyncDisposable
{
    /// <summary>What the config and the doctor call it: <c>docker</c>.</summary>
    string Name { get; }

    BackendCapabilities Capabilities { get; }

    IBoxImages Images { get; }

    /// <summary>The platform's version, its OCI runtimes and its nodes; throws, naming the endpoint and the fix, when it does not answer.</summary>
    Task<BackendFacts> DescribeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Whether a box can mount a folder of this machine and see this machine's files in it (false for a remote
    /// engine, or one in a container of its own): what decides the transport. Probed once per backend with
    /// <paramref name="image"/>, then remembered.
    /// </summary>
    Task<bool> SharesHostFilesAsync(string image, CancellationToken cancellationToken);

    /// <summary>
    /// Why a box on the open network (<see cref="NetworkIntent.Open"/>) could call the platform's own API without
    /// credentials, or null when it could not: such a box could start privileged containers and read other runs'
    /// proxies, so the run layer refuses the open network there. Asked once per backend.
    /// </summary>
    Task<string?> ExposedApiAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A run's place on the platform: its network and, for <see cref="NetworkIntent.Allowlist"/>, its egress proxy,
    /// ready when this returns. Whatever it made is removed again when it cannot be made whole.
    /// </summary>
    Task<IRunSite> OpenRunSiteAsync(RunSiteSpec spec, CancellationToken cancellationToken);

    /// <summary>Removes every box and site resource of one run of <paramref name="scope"/> (by label, also another process's); returns how many boxes.</summary>
    Task<int> RemoveRunAsync(BoxScope scope, string runId, CancellationToken cancellationToken);

    /// <summary>
    /// Removes what <paramref name="scope"/> holds whose creating process (<see cref="Labels.Owner"/>) is gone from
    /// this machine (killed, crashed); returns how many resources. Their task trees on disk are left for recovery.
    /// Probes of a gone process (<see cref="Labels.IsOrphanedProbe"/>: of no run and no repository, so in no scope)
    /// go with every sweep, uncounted.
    /// </summary>
    Task<int> RemoveOrphansAsync(BoxScope scope, CancellationToken cancellationToken);

    /// <summary>The boxes of <paramref name="scope"/> (of one run when <paramref name="runId"/> is set), running or not, whoever made them.</summary>
    Task<IReadOnlyList<BoxRef>> FindBoxesAsync(BoxScope scope, string? runId, CancellationToken cancellationToken);
}

/// <summary>What a backend can do beyond running a box; the run layer refuses what needs a missing one, naming it.</summary>
/// <param name="Snapshots">Boxes can be committed as images and report their changes and written bytes: what environments need.</param>
/// <param name="Exec">Commands can run in a started box: what verification needs.</param>
/// <param name="Runtimes">Boxes can name an OCI runtime (gVisor's <c>runsc</c>).</param>
/// <param name="Allowlist">Sites can be <see cref="NetworkIntent.Allowlist"/> (an egress proxy holding the credential): what <c>network_policy: deny</c> needs.</param>
public sealed record BackendCapabilities(bool Snapshots, bool Exec, bool Runtimes, bool Allowlist = true);

/// <summary>What the doctor shows of a backend.</summary>
public sealed record BackendFacts(string Version, string ApiVersion, EngineRuntimes Runtimes)
{
    /// <summary>The machines boxes run on (one for a single engine).</summary>
    public IReadOnlyList<BackendNode> Nodes { get; init; } = [];
}

/// <summary>A machine boxes run on: its state as the platform describes it (free capacity included), and whether it takes new boxes.</summary>
public sealed record BackendNode(string Name, string State)
{
    public bool TakesBoxes { get; init; } = true;
}

/// <summary>
/// The repository a resource belongs to (<see cref="Labels.Scope"/>): run ids are unique only within one
/// repository, so every name, listing and cleanup includes it. <see cref="Every"/> is every repository's
/// (a machine-wide orphan sweep).
/// </summary>
public sealed record BoxScope(string? Repository)
{
    public static BoxScope Every { get; } = new((string?)null);

    /// <summary>
    /// Labels a resource must carry besides the repository's to be in this scope: an embedding host's own (the
    /// Testcontainers module's owner or instance label), so its sweeps take only what it made.
    /// </summary>
    public IReadOnlyDictionary<string, string?> Carrying { get; init; } = new Dictionary<string, string?>();

    /// <summary>Whatever carries <paramref name="label"/> (with <paramref name="value"/> when it is not null), in every repository.</summary>
    public static BoxScope Labelled(string label, string? value = null) => new((string?)null) { Carrying = new Dictionary<string, string?> { [label] = value } };

    /// <summary>The scope of the repository whose git directory is <paramref name="gitCommonDir"/>.</summary>
    public static BoxScope Of(string gitCommonDir) => new(Labels.ScopeOf(gitCommonDir));

    public override string ToString() =>
        (Repository ?? "(every repository)") + string.Concat(Carrying.Select(kv => kv.Value is null ? $" carrying {kv.Key}" : $" carrying {kv.Key}={kv.Value}"));
}

/// <summary>A box found by its labels: what it is, which run and node, and whether it runs.</summary>
public sealed record BoxRef(string Id, string? RunId, string? TaskId, string? Role, bool Running)
{
    public string? Node { get; init; }

    /// <summary>All its labels, the runner's and any other.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
}

/// <summary>One OCI runtime a platform has registered: its name, the binary and the arguments it starts it with.</summary>
public sealed record EngineRuntime(string Name, string? Path, IReadOnlyList<string> Arguments);

/// <summary>The OCI runtimes a platform lists and the one it uses when a box names none.</summary>
public sealed record EngineRuntimes(string Default, IReadOnlyDictionary<string, EngineRuntime> Available)
{
    /// <summary>The kernel release of the platform's machine, which runc boxes share; null when unknown.</summary>
    public string? HostKernel { get; init; }

    /// <summary>What <paramref name="configured"/> (a runtime name, or null for the default) names here, or null when there is no such runtime.</summary>
    public EngineRuntime? Find(string? configured) => Available.GetValueOrDefault(configured ?? Default);
}

/// <summary>
/// Which resources a listing means: every label must be present, with the given value when it is not null.
/// </summary>
public sealed record LabelSelector(IReadOnlyDictionary<string, string?> Labels)
{
    public static LabelSelector Of(string label, string? value = null) => new(new Dictionary<string, string?> { [label] = value });

    public LabelSelector And(string label, string? value = null) =>
        new(new Dictionary<string, string?>(Labels) { [label] = value });

    public bool Matches(IReadOnlyDictionary<string, string> labels) =>
        Labels.All(kv => labels.TryGetValue(kv.Key, out var v) && (kv.Value is null || v == kv.Value));

    /// <summary>Everything of <paramref name="scope"/>, of one run when <paramref name="runId"/> is set.</summary>
    public static LabelSelector Of(BoxScope scope, string? runId)
    {
        // Every repository's: whatever a runner process made (it stamps its owner on everything), scoped or not.
        var selector = scope.Repository is { } repository ? Of(Boxes.Labels.Scope, repository) : Of(Boxes.Labels.Owner);
        foreach (var (label, value) in scope.Carrying)
        {
            selector = selector.And(label, value);
        }

        return runId is null ? selector : selector.And(Boxes.Labels.Run, runId);
    }
}
