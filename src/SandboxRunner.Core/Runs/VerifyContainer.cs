using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// The fresh container a task's verify commands run in, never the agent's: the task's image (the environment's
/// run image, or the task image), the same user, no capabilities, the task's read-only root, resource limits and
/// network policy. Its <c>/workspace</c> is the harvested tree: the result commit's files over the base commit's
/// checkout (and the setup's artefacts, from the run image, as setup left them), so nothing the agent left
/// outside what was kept (background processes, HOME, /tmp, ignored files, changes to the artefacts) can shape
/// how the commands run. It idles until the runner runs each command in it (<see cref="IExecOperations"/>).
/// </summary>
internal sealed class VerifyContainer
{
    /// <summary>The container's own process: it waits, the verify commands are run in it one by one.</summary>
    private static readonly string[] Idle = ["/bin/sh", "-c", "while :; do sleep 3600; done"];

    /// <summary>Bytes of paths per <c>rm</c> call: the engine passes argv whole, so a long list is split.</summary>
    private const int MaxRemoveBytes = 64 * 1024;

    private ITaskBox? _box;

    /// <summary>The host checkout mounted or copied in (null for an environment task, whose tree is laid over its run image).</summary>
    public Worktree? Tree { get; private set; }

    public ITaskBox Box => _box ?? throw new InvalidOperationException("the verification container was not created");

    /// <summary>
    /// Creates, fills and starts the container for <paramref name="task"/>, whose harvest put its tree on
    /// <paramref name="content"/> (the base commit when it changed nothing). Whatever it made is released by
    /// <see cref="ReleaseAsync"/>, also when this throws part-way.
    /// </summary>
    public async Task StartAsync(
        GitCli git, TaskContext context, TaskPlan task, string folder, TaskFacts facts, string content, UnixOwner owner,
        CancellationToken cancellationToken)
    {
        var prepared = context.EnvironmentOf(task);
        var bind = context.Copy is null && prepared is null;
        if (prepared is null)
        {
            // Checked out by the runner's own git from the host repository: the commit, never the agent's folder.
            Tree = await Worktree.CreateAsync(git, context.Repository, Path.Combine(folder, "verify"), context.Run.BaseCommit,
                bind ? owner : UnixOwner.CurrentProcess, cancellationToken, content);
        }

        _box = await context.Site.CreateBoxAsync(Spec(context, task, Tree, owner, prepared), cancellationToken);
        if (prepared is not null)
        {
            var (added, deleted) = Overlay(facts.Changes.Entries);
            if (added.Count > 0)
            {
                await Box.PutArchiveAsync(CodexCommandLine.Workspace,
                    (tar, ct) => ResultArchive.WriteAsync(tar, context.Repository, content, added, (int)owner.Uid, (int)owner.Gid, ct), cancellationToken);
            }

            await context.Pack!.UploadObjectsAsync(Box, owner, cancellationToken);
            await Box.StartAsync(cancellationToken);
            await RemoveAsync(Box, deleted, owner, cancellationToken);
            return;
        }

        if (context.Copy is { } copy)
        {
            await copy.UploadTreeAsync(Box, Tree!, owner, cancellationToken);
            await copy.UploadObjectsAsync(Box, owner, cancellationToken);
        }

        await Box.StartAsync(cancellationToken);
    }

    /// <summary>
    /// What the harvest changed, as an overlay of the run image's checkout: the paths to write from the result
    /// commit, and the deletions that no written path stands in for (a file that became a folder, or the other
    /// way round, is replaced by the archive itself).
    /// </summary>
    internal static (IReadOnlyList<string> Added, IReadOnlyList<string> Deleted) Overlay(IReadOnlyList<ChangedEntry> entries)
    {
        var added = entries.Where(e => !e.IsDeleted && !e.IsGitlink).Select(e => e.Path).ToList();
        var addedSet = added.ToHashSet(StringComparer.Ordinal);
        var addedFolders = added.SelectMany(Parents).ToHashSet(StringComparer.Ordinal);
        var deleted = entries.Where(e => e.IsDeleted).Select(e => e.Path)
            .Where(d => !addedSet.Contains(d) && !addedFolders.Contains(d) && !Parents(d).Any(addedSet.Contains))
            .ToList();
        return (added, deleted);
    }

    private static IEnumerable<string> Parents(string path)
    {
        for (var slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
        {
            yield return path[..slash];
        }
    }

    /// <summary>The task's deletions, made inside the container by the runner's own <c>rm</c> (argv, no shell), as the task's user.</summary>
    private static async Task RemoveAsync(ITaskBox box, IReadOnlyList<string> paths, UnixOwner owner, CancellationToken cancellationToken)
    {
        foreach (var batch in Batches(paths))
        {
            var output = new System.Text.StringBuilder();
            var exit = await box.ExecAsync(new BoxCommand(["rm", "-rf", "--", .. batch], owner.ToString(), CodexCommandLine.Workspace),
                (_, chunk) => output.Append(TextCap.Cap(System.Text.Encoding.UTF8.GetString(chunk), 500)), cancellationToken);
            if (exit != 0)
            {
                throw new InvalidOperationException(
                    $"removing the {batch.Count} path(s) the task deleted failed (exit {exit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}): {TextCap.Cap(output.ToString(), 500)}");
            }
        }
    }

    private static IEnumerable<List<string>> Batches(IReadOnlyList<string> paths)
    {
        var batch = new List<string>();
        var bytes = 0;
        foreach (var path in paths)
        {
            if (batch.Count > 0 && bytes + path.Length + 1 > MaxRemoveBytes)
            {
                yield return batch;
                batch = [];
                bytes = 0;
            }

            batch.Add(path);
            bytes += path.Length + 1;
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    private static BoxSpec Spec(TaskContext context, TaskPlan task, Worktree? tree, UnixOwner owner, PreparedEnvironment? prepared)
    {
        // No variable of the host's: verification needs no key, and what it prints cannot leak one. CI=true makes
        // test runners non-interactive (no watch mode, no prompts).
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = prepared is null ? "/tmp" : SetupRun.Home,
            ["CI"] = "true",
        };
        if (context.Site.Egress is { } gateway)
        {
            foreach (var (name, value) in gateway.ProxyVariables)
            {
                environment[name] = value;
            }
        }

        var image = prepared is not null ? prepared.RunImage.Tag : context.Image.Tag;
        var bind = context.Copy is null && prepared is null;
        return new BoxSpec
        {
            Image = image,

            // Not the runner's sealed init: it guards Codex's output, and the verify commands' output and exit codes come
            // through the engine's exec API instead. The platform's init reaps what the commands leave; nothing is given a capability.
            Entrypoint = Idle,
            Command = [],
            Init = null,
            User = owner.ToString(),
            WorkingDirectory = CodexCommandLine.Workspace,
            Environment = environment,
            Workspace = bind
                ? [new BoxMount.HostFolder(tree!.WorkPath, CodexCommandLine.Workspace, ReadOnly: false), new BoxMount.HostFolder(context.Repository.ObjectsDir, context.Repository.ObjectsDir, ReadOnly: true)]
                : prepared is not null ? [new BoxMount.Scratch(context.Pack!.ObjectsDir)]
                : context.Copy is { } copy ? [new BoxMount.Scratch(CodexCommandLine.Workspace), new BoxMount.Scratch(copy.ObjectsDir)]
                : [],
            Identity = new BoxIdentity(task.TaskId, task.Attempt, BoxPurpose.Verify),
            MaxLogBytes = context.Limits.MaxLogBytes,
            Limits = ResourceProfiles.For(context.Run.ResourcePolicy),
            ReadOnlyRoot = prepared is null && context.Run.SandboxMode != SandboxMode.DangerFullAccess,
            Runtime = task.Runtime,
        };
    }

    /// <summary>Removes the box (and with it its place on the site's network); the host checkout goes with the task's folder.</summary>
    public async Task ReleaseAsync()
    {
        if (_box is not null)
        {
            await _box.DisposeAsync();
        }
    }
}
