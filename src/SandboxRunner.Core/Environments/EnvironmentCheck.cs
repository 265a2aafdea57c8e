using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Boxes;

namespace SandboxRunner.Environments;

/// <summary>
/// One environment's state for the doctor and the dry run: which image tasks would use, whether it is built,
/// whether setup would run. <paramref name="Field"/> is the config field at fault when it is not usable
/// (<c>environment.base_image</c>), and <paramref name="Detail"/> then the rule it broke.
/// </summary>
public sealed record EnvironmentStatus(string Name, string Field, bool Usable, string Detail, string? Fix);

/// <summary>
/// Checks the config's environments without running a task: the base exists, the runner's layering onto it
/// works (git and bash are there, Codex runs on it; the images this builds are the ones tasks use, so the
/// check is never wasted), and whether the setup is cached for the commit. A base image built from a
/// repository Dockerfile is only checked for its file; it is built by the first run.
/// </summary>
public static class EnvironmentCheck
{
    public static async Task<IReadOnlyList<EnvironmentStatus>> ExamineAsync(
        RunnerConfig config, IEnumerable<string> names, HostRepository repository, ITaskBackend backend, GitCli git, TaskImage codex, string commit,
        CancellationToken cancellationToken)
    {
        var statuses = new List<EnvironmentStatus>();
        var scope = Labels.ScopeOf(repository.CommonDir);
        var images = new EnvironmentImages(backend.Images, git, repository, scope);
        BaseTree? tree = null;
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            var field = SetupKey.FieldOf(name);
            var spec = name == RunnerConfig.DefaultEnvironment ? config.Environment : config.Environments.GetValueOrDefault(name);
            if (spec is null)
            {
                continue;
            }

            try
            {
                EnvironmentBackend.Require(backend);
                tree ??= await BaseTree.ReadAsync(git, repository, commit, cancellationToken);
                statuses.Add(await ExamineOneAsync(field, name, spec, images, backend.Images, config, codex, scope, tree, cancellationToken));
            }
            catch (EnvironmentException e)
            {
                statuses.Add(new EnvironmentStatus(name, e.In(field).Field, false, e.Rule, FixFor(spec)));
            }
            catch (Exception e) when (e is InvalidOperationException or ImageBuildException or GitException)
            {
                statuses.Add(new EnvironmentStatus(name, field, false, $"checking it failed: {e.Message}", FixFor(spec)));
            }
        }

        return statuses;
    }

    private static async Task<EnvironmentStatus> ExamineOneAsync(
        string field, string name, EnvironmentSpec spec, EnvironmentImages images, IBoxImages backendImages, RunnerConfig config, TaskImage codex,
        string scope, BaseTree tree, CancellationToken cancellationToken)
    {
        if (SetupKey.Unmatched(tree, spec) is { Count: > 0 } unmatched)
        {
            throw new EnvironmentException(string.Join("; ", unmatched.Select(u => $"{field}.cache_keys[{u.Index}]: {SetupKey.UnmatchedRule(u.Glob, tree.Commit)}")));
        }

        if (spec.Dockerfile is { } dockerfile)
        {
            if (!tree.Tracked.ContainsKey(dockerfile))
            {
                throw new EnvironmentException($"{field}.dockerfile: '{dockerfile}' is not a file of the repository at {tree.Commit[..12]}; commit it, or fix the path (relative to the repository root)");
            }

            return new EnvironmentStatus(name, field, true, $"built from {dockerfile} by the first run that uses it (then cached by its build context)", null);
        }

        var image = await images.EnsureAsync(spec.BaseImage!, cancellationToken);
        string? cached = null;
        var view = SetupKey.View(tree, spec);
        if (spec.Setup.Count > 0 && await backendImages.InspectAsync(image.Tag, cancellationToken) is { } facts)
        {
            cached = await SetupKey.FindAsync(backendImages, new SetupInputs(scope, facts.Id, spec, config.EffectiveAllowlist, view), tree, cancellationToken);
        }

        var setup = spec.Setup.Count == 0
            ? "no setup"
            : cached is not null
                ? $"setup cached for this commit's {view.Count} cache-key file(s)"
                : $"setup ({spec.Setup.Count} command(s)) runs once on the next run, seeing {view.Count} file(s) ({string.Join(", ", view.Take(3).Select(f => f.Path))}{(view.Count > 3 ? ", ..." : "")}), then is reused until one of them changes";

        // Codex is checked on what tasks will start from: the setup when it is cached, else the environment image.
        var tasks = await images.WithCodexAsync(cached ?? image.Tag, codex, cancellationToken);
        return new EnvironmentStatus(name, field, true, $"{spec.BaseImage} → {image.Tag} (built); {setup}; tasks start from {tasks.Tag}", null);
    }

    private static string FixFor(EnvironmentSpec spec) => spec.BaseImage is not null
        ? "make the base image available to the engine with what tasks need (git, bash), or point base_image at another"
        : "fix the Dockerfile named by dockerfile, or commit it";
}
