using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Boxes;

namespace SandboxRunner.Environments;

/// <summary>
/// What a run's environments need to know of the run: its id and base commit, its resource policy and trusted
/// authorities, and which environments its tasks use. The runs layer builds it from its plan, so environments
/// never depend on how a run is planned.
/// </summary>
public sealed record EnvironmentRun(string RunId, string BaseCommit, ResourcePolicy ResourcePolicy, IReadOnlyList<EnvironmentUse> Uses)
{
    /// <summary>The certificate authorities setup trusts besides its image's (<c>extra_ca_certs</c>); null for none.</summary>
    public TrustedAuthorities? Trust { get; init; }
}

/// <summary>One task's use of an environment: its name, its spec, and the runtime the task runs under (null for the spec's or the config's).</summary>
public sealed record EnvironmentUse(string Name, EnvironmentSpec Spec, string? Runtime);

/// <summary>
/// The run's pack of base-commit objects and the checkout's tree, uploaded into a box through its archive
/// calls: what a run image and an environment task's container are filled from (the runs layer's tree copy).
/// </summary>
public interface IRunPack
{
    /// <summary>Where the objects go in a container: the host repository's object folder, which the task repository's <c>alternates</c> name.</summary>
    string ObjectsDir { get; }

    /// <summary>Uploads the checkout's working tree into the box's <c>/workspace</c>.</summary>
    Task UploadTreeAsync(ITaskBox box, Worktree worktree, UnixOwner owner, CancellationToken cancellationToken);

    /// <summary>Uploads the run's object pack where the task repository's <c>alternates</c> look.</summary>
    Task UploadObjectsAsync(ITaskBox box, UnixOwner owner, CancellationToken cancellationToken);
}
