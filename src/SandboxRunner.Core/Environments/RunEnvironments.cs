using System.Text.Json;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Environments;

/// <summary>How an environment's setup came to be for this run.</summary>
public enum SetupState
{
    [System.Text.Json.Serialization.JsonStringEnumMemberName("none")] None,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("built")] Built,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("reused")] Reused,
}

/// <summary>
/// An environment ready for a run's tasks: the run image (the setup's artefacts plus the checkout of the
/// base commit, committed once per run, so a task's container starts with both and the engine's change list
/// names only what the task did), and what setup left.
/// </summary>
public sealed record PreparedEnvironment(string Name, EnvironmentImage RunImage, SetupRecord Setup, SetupState State, string? SetupLog);

/// <summary>What a run's environments need from the runner around them.</summary>
/// <param name="Backend">Where setup and run-image boxes are made and committed; one without snapshots is refused (<see cref="EnvironmentBackend"/>).</param>
/// <param name="RunSite">The run's site (or null): a <c>setup_network: deny</c> setup shares it when it is an allowlist site.</param>
/// <param name="OpenSetupSite">
/// Opens an allowlist site of the setup's own (the config's allowlist, no model credential) for a <c>deny</c> setup in a
/// run without one; the setup disposes it when done.
/// </param>
public sealed record EnvironmentServices(
    ITaskBackend Backend, GitCli Git, HostRepository Repository, string RunFolder, IRunPack Copy, TaskImage Codex,
    IRunSite? RunSite, Func<CancellationToken, Task<IRunSite>> OpenSetupSite);

/// <summary>
/// Prepares every environment a run's tasks use, once per run: the environment image (built when missing),
/// the setup (reused while its key is unchanged, else run and committed), and the run image; removes the run
/// images when the run ends. A failure is an <see cref="EnvironmentException"/> naming what failed and the fix.
/// </summary>
public sealed class RunEnvironments(EnvironmentServices services, RunnerConfig config, EnvironmentRun plan, string scope, string scratch) : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private readonly Dictionary<string, PreparedEnvironment> _prepared = new(StringComparer.Ordinal);
    private readonly List<string> _runImages = [];

    public IReadOnlyDictionary<string, PreparedEnvironment> Prepared => _prepared;

    /// <summary>The run's pack of base-commit objects, which every environment task's container gets.</summary>
    public IRunPack Copy => services.Copy;

    public bool Any => plan.Uses.Count > 0;

    public async Task PrepareAsync(Action<string> report, CancellationToken cancellationToken)
    {
        var wanted = plan.Uses.GroupBy(u => u.Name, StringComparer.Ordinal).ToList();
        if (wanted.Count == 0)
        {
            return;
        }

        var tree = await BaseTree.ReadAsync(services.Git, services.Repository, plan.BaseCommit, cancellationToken);
        foreach (var group in wanted)
        {
            try
            {
                EnvironmentBackend.Require(services.Backend);
                _prepared[group.Key] = await PrepareOneAsync(group.Key, group.First().Spec, tree, report, cancellationToken);
            }
            catch (EnvironmentException e)
            {
                // Whatever failed names its field in this environment's section (environments.py.setup[1]), once.
                throw e.In(SetupKey.FieldOf(group.Key));
            }
        }
    }

    private async Task<PreparedEnvironment> PrepareOneAsync(string name, EnvironmentSpec spec, BaseTree tree, Action<string> report, CancellationToken cancellationToken)
    {
        var images = new EnvironmentImages(services.Backend.Images, services.Git, services.Repository, scope);
        report($"environment {name}: preparing its image");
        var baseImage = await images.BaseAsync(spec, tree, scratch, cancellationToken);
        var image = await images.EnsureAsync(baseImage, cancellationToken);

        var state = SetupState.None;
        var record = new SetupRecord([], []);
        var from = image.Tag;
        string? log = null;
        if (spec.Setup.Count > 0)
        {
            var imageId = (await services.Backend.Images.InspectAsync(image.Tag, cancellationToken))?.Id
                ?? throw new EnvironmentException($"the environment image '{image.Tag}' is not in the Docker engine any more (removed by `image prune`?); run again to rebuild it");
            var inputs = new SetupInputs(scope, imageId, spec, config.EffectiveAllowlist, SetupKey.View(tree, spec));
            log = Path.Combine(services.RunFolder, "environments", name, "setup.log");
            if (await SetupKey.FindAsync(services.Backend.Images, inputs, tree, cancellationToken) is { } existing)
            {
                from = existing;
                state = SetupState.Reused;
                record = SetupRecord.FromLabels((await services.Backend.Images.InspectAsync(existing, cancellationToken))?.Labels ?? new Dictionary<string, string>());
                report($"environment {name}: setup reused ({from})");
                log = null;
            }
            else
            {
                from = SetupKey.OwnTag(inputs, tree);
                report($"environment {name}: running setup ({spec.Setup.Count} command(s)) on {Describe(inputs.View)}; log: {log}");
                record = await RunSetupAsync(name, image, inputs, tree, from, log, report, cancellationToken);
                state = SetupState.Built;
                report($"environment {name}: setup done, kept as {from}");
            }

            await WriteSetupRecordAsync(name, from, state, record, inputs.View, cancellationToken);
        }

        // An artefact the base commit tracks (or holds files under) is the task's to change, not setup's: links and
        // submodules included, or a task's change to a tracked link where setup once made a file would be dropped.
        var trackedFolders = tree.Tracked.Keys.SelectMany(Parents).ToHashSet(StringComparer.Ordinal);
        record = record with { Artifacts = record.Artifacts.Where(a => !tree.Tracked.ContainsKey(a.TrimEnd('/')) && !trackedFolders.Contains(a.TrimEnd('/'))).ToList() };

        // Codex goes on after setup, so a new Codex image costs one cached layer, not a second setup.
        var withCodex = await images.WithCodexAsync(from, services.Codex, cancellationToken);
        var runImage = await WithCheckoutAsync($".run-image-{name}", checkout => CommitRunImageAsync(withCodex.Tag, name, checkout, cancellationToken), cancellationToken);
        return new PreparedEnvironment(name, withCodex with { Tag = runImage }, record, state, log);
    }

    private static string Describe(IReadOnlyList<Git.TrackedPath> view) => view.Count switch
    {
        0 => "no file of the repository",
        <= 3 => string.Join(", ", view.Select(f => f.Path)),
        _ => $"{view.Count} files ({string.Join(", ", view.Take(3).Select(f => f.Path))}, ...)",
    };

    private async Task<SetupRecord> RunSetupAsync(
        string name, EnvironmentImage image, SetupInputs inputs, BaseTree tree, string setupTag, string log, Action<string> report, CancellationToken cancellationToken)
    {
        var limits = ResourceProfiles.LimitsFor(plan.ResourcePolicy, config.TaskLimits);
        Task WriteView(Stream tar, CancellationToken ct) => BlobArchive.WriteAsync(
            tar, services.Git, services.Repository, inputs.View, (int)UnixOwner.ImageUser.Uid, (int)UnixOwner.ImageUser.Gid, SetupKey.MaxViewBytes,
            Path.Combine(scratch, $".setup-view-{Guid.NewGuid():N}"), ct);

        // Setup runs under the runtime its environment's tasks do (resolved by RuntimeCheck for every task of the plan).
        var spec = inputs.Spec;
        var runtime = plan.Uses.FirstOrDefault(u => u.Spec == spec)?.Runtime ?? spec.Runtime ?? config.Runtime;
        var place = new SetupPlace(scope, plan.ResourcePolicy, limits, log) { Runtime = runtime, Trust = plan.Trust };
        try
        {
            Directory.CreateDirectory(scratch);
            if (inputs.Spec.SetupNetwork == SetupNetwork.Allow)
            {
                await using var open = await services.Backend.OpenRunSiteAsync(new RunSiteSpec(new BoxScope(scope), plan.RunId, NetworkIntent.Open), cancellationToken);
                return await SetupRun.RunAsync(open, image, inputs.Spec, WriteView, setupTag, place, report, cancellationToken);
            }

            // deny: behind the run's egress proxy (its allowlist), or one of its own when the tasks have the network.
            var own = services.RunSite is { Network: NetworkIntent.Allowlist } ? null : await services.OpenSetupSite(cancellationToken);
            try
            {
                return await SetupRun.RunAsync(own ?? services.RunSite!, image, inputs.Spec, WriteView, setupTag, place, report, cancellationToken);
            }
            finally
            {
                if (own is not null)
                {
                    await own.DisposeAsync();
                }
            }
        }
        catch (BlobArchiveLimitException)
        {
            throw new EnvironmentException($"{SetupKey.FieldOf(name)}.cache_keys: the files it matches are over {SetupKey.MaxViewBytes >> 20} MiB; name the manifests and lock files setup needs, not the repository");
        }
        catch (SetupFailedException e)
        {
            throw new EnvironmentException($"{e.Message}\n{SetupView.Hint(name, inputs.View, tree, e.Tail)}");
        }
    }

    /// <summary>The setup image with this run's checkout put into <c>/workspace</c>, committed (never started) as the image the run's tasks start from.</summary>
    private async Task<string> CommitRunImageAsync(string from, string name, Worktree checkout, CancellationToken cancellationToken)
    {
        var tag = $"sandbox-runner/run:{EnvironmentImages.Hash([scope, plan.RunId, name])}";

        // Never started, so it needs no network: a site of none, which costs the backend nothing.
        await using var site = await services.Backend.OpenRunSiteAsync(new RunSiteSpec(new BoxScope(scope), plan.RunId, NetworkIntent.None), cancellationToken);
        await using var box = await site.CreateBoxAsync(new BoxSpec
        {
            Image = from,
            Command = ["true"],
            User = UnixOwner.ImageUser.ToString(),
            WorkingDirectory = CodexCommandLine.Workspace,
            Environment = new Dictionary<string, string>(),
            Limits = ResourceProfiles.For(plan.ResourcePolicy),
            ReadOnlyRoot = false,
            Identity = new BoxIdentity(RunImageTaskId, Purpose: BoxPurpose.Image),
        }, cancellationToken);
        await services.Copy.UploadTreeAsync(box, checkout, UnixOwner.ImageUser, cancellationToken);
        var labels = new Dictionary<string, string>(ImageRecipe.RunnerLabels(ImageRoles.Run, tag, scope)) { [Boxes.Labels.Run] = plan.RunId };
        _runImages.Add(tag);
        await box.CommitAsync(new ImageCommit(tag, labels, ["ENTRYPOINT []", "CMD []"]), cancellationToken);
        return tag;
    }

    /// <summary>The task id the box a run image is committed from is labelled with.</summary>
    public const string RunImageTaskId = "environment-run-image";

    /// <summary>A checkout of the base commit on this machine for the length of one step, then gone.</summary>
    private async Task<T> WithCheckoutAsync<T>(string folderName, Func<Worktree, Task<T>> step, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(scratch, $"{folderName}-{Guid.NewGuid():N}");
        try
        {
            var checkout = await Worktree.CreateAsync(services.Git, services.Repository, folder, plan.BaseCommit, UnixOwner.CurrentProcess, cancellationToken);
            return await step(checkout);
        }
        finally
        {
            TreeDeletion.TryDelete(folder);
        }
    }

    private async Task WriteSetupRecordAsync(string name, string image, SetupState state, SetupRecord record, IReadOnlyList<Git.TrackedPath> view, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(services.RunFolder, "environments", name);
        Directory.CreateDirectory(folder);
        var json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["setup_image"] = image,
            ["setup"] = Platform.WireName.Of(state),
            ["files_setup_sees"] = view.Take(1000).Select(f => f.Path).ToList(),
            ["artifacts"] = record.Artifacts.Take(1000).ToList(),
            ["tracked_files_changed_by_setup"] = record.TrackedChanges.Take(1000).ToList(),
        }, Indented);
        await File.WriteAllTextAsync(Path.Combine(folder, "setup.json"), json, cancellationToken);
    }

    private static IEnumerable<string> Parents(string path)
    {
        for (var slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
        {
            yield return path[..slash];
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var tag in _runImages)
        {
            try
            {
                await services.Backend.Images.DeleteAsync(tag, budget.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
            {
                // `image prune` removes what teardown could not (the run images carry the runner's labels).
            }
        }
    }
}
