using System.Globalization;
using SandboxRunner.Git;
using SandboxRunner.Platform;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// Checking out and throwing away a 50,000-file tree: <c>git worktree</c>, LibGit2Sharp, and the runner's
/// own <see cref="Worktree"/> with and without the ownership change a root host makes, plus the cost of
/// computing the (empty) patch of an untouched tree.
/// </summary>
internal static class CheckoutBenchmark
{
    /// <summary>The normal policy's task limits: a 50k-file tree is well within them.</summary>
    public static readonly SandboxRunner.Configuration.TaskLimits Limits =
        SandboxRunner.Policy.ResourceProfiles.LimitsFor(SandboxRunner.Configuration.ResourcePolicy.Normal, new());

    private const int RunCount = 5;
    private const int WarmUps = 1;

    public static async Task RunAsync(CancellationToken cancellationToken)
    {
        var repo = await Repositories.EnsureLargeAsync(cancellationToken);
        var files = Repositories.LargeDirectories * Repositories.LargeFilesPerDirectory;
        var session = Guid.NewGuid().ToString("N")[..12];
        var scratch = Path.Combine(Path.GetTempPath(), $"sr-bench-{session}");
        var branchPrefix = $"sr-bench-{session}-";
        var gitLog = new GitCallRecorder();
        var git = new GitCli(gitLog);
        var host = await HostRepository.OpenAsync(git, repo, cancellationToken);
        var commit = await host.ResolveCommitAsync("HEAD", cancellationToken)
            ?? throw new InvalidOperationException($"{repo} has no HEAD commit");
        var runnerScratch = Path.Combine(host.RunnerDir, $"bench-{session}");

        var sandboxOwner = UnixOwner.ForSandbox();
        var current = UnixOwner.CurrentProcess;
        var owners = sandboxOwner.IsCurrentProcess
            ? new[] { (Owner: current, Label: $"{current} (CurrentProcess = ForSandbox, not root)") }
            : [(sandboxOwner, $"{sandboxOwner} (ForSandbox)"), (current, $"{current} (CurrentProcess)")];

        var table = new ResultTable(string.Create(
            CultureInfo.InvariantCulture,
            $"checkout: {files:N0} files x {Repositories.LargeFileBytes} B in {Repositories.LargeDirectories} dirs (N={RunCount} after {WarmUps} warm-up; checkouts interleaved, all removals after all checkouts)"));
        var cliAdd = table.Row("(a) git worktree add --detach DIR HEAD");
        table.Row("cli-remove", "(a) git worktree remove --force DIR");
        var lgAdd = table.Row("(b) LibGit2Sharp Worktrees.Add(name, path, false)");
        table.Row("lg-remove", "(b) LibGit2Sharp Worktrees.Prune + Branches.Remove");
        table.Note("(b) Worktrees.Add(name, path) checks out HEAD on a new branch named like the worktree; Prune(wt, ifLocked: true)\n"
            + "    removes the registration and the folder, then the branch is deleted. Both are timed as 'remove'.\n"
            + "(c) indented rows are the git calls CreateAsync / CollectChangesAsync made, timed by GitCli's own log; 'rest' = CreateAsync\n"
            + "    minus its git calls: chown -R -h of work/ (only when the owner is not the current process),\n"
            + "    writing work/.git and host.git, and copying the index.\n"
            + "(e) not a runner step: `git status --porcelain` with the agent's own work/.git, run on the host right after (d),\n"
            + "    i.e. what the agent's first git command pays. chown changes every file's uid and ctime after read-tree wrote\n"
            + "    work/.git/index, and CreateAsync refreshes only host.git's index, so git re-reads every file once.\n"
            + "Removals run after all checkouts (warm-up trees first), while and after the kernel writes the ~20 trees back; a real\n"
            + "    task's tree is written back too before it is removed. Removing a tree seconds after creating it can be much cheaper.");

        using var libgit = new LibGit2Sharp.Repository(repo);
        var libgitLeftFolders = 0;
        // Trees are removed only after every checkout was made (see the no-journal note below); Row is null for warm-up trees.
        var pending = new List<PendingRemoval>();
        try
        {
            Directory.CreateDirectory(scratch);
            for (var i = 0; i < WarmUps + RunCount; i++)
            {
                var measured = i >= WarmUps;
                Console.Error.Write(measured ? "." : "w");

                // (a) git worktree
                var cliDir = Path.Combine(scratch, $"cli-{i}");
                var tCliAdd = await Timing.TimeAsync(() => Shell.GitAsync(repo, cancellationToken, "worktree", "add", "--quiet", "--detach", cliDir, "HEAD"));
                pending.Add(new PendingRemoval(
                    measured ? table.Row("cli-remove", "(a) git worktree remove --force DIR") : null,
                    () => Shell.GitAsync(repo, CancellationToken.None, "worktree", "remove", "--force", cliDir)));
                if (measured)
                {
                    cliAdd.Add(tCliAdd);
                }

                // (b) LibGit2Sharp
                var name = $"{branchPrefix}{i}";
                var lgDir = Path.Combine(scratch, $"lg-{i}");
                var tLgAdd = Timing.Time(() => libgit.Worktrees.Add(name, lgDir, isLocked: false));
                pending.Add(new PendingRemoval(
                    measured ? table.Row("lg-remove", "(b) LibGit2Sharp Worktrees.Prune + Branches.Remove") : null,
                    () =>
                    {
                        libgit.Worktrees.Prune(libgit.Worktrees[name], ifLocked: true);
                        libgit.Branches.Remove(name);
                        if (Directory.Exists(lgDir))
                        {
                            libgitLeftFolders++;
                            TreeDeletion.Delete(lgDir);
                        }

                        return Task.CompletedTask;
                    }));
                if (measured)
                {
                    lgAdd.Add(tLgAdd);
                }

                // (c), (d), (e): the runner's Worktree
                foreach (var (owner, label) in owners)
                {
                    var key = owner.Uid.ToString(CultureInfo.InvariantCulture);
                    var folder = Path.Combine(runnerScratch, $"{key}-{i}");
                    gitLog.Clear();
                    Worktree? worktree = null;
                    var tCreate = await Timing.TimeAsync(async () =>
                        worktree = await Worktree.CreateAsync(git, host, folder, commit, owner, cancellationToken));
                    var createCalls = gitLog.Events;
                    var created = worktree!;

                    gitLog.Clear();
                    TreeChanges? changes = null;
                    var tCollect = await Timing.TimeAsync(async () => changes = await created.CollectChangesAsync(Limits, Path.Combine(folder, "task.patch"), cancellationToken));
                    var collectCalls = gitLog.Events;
                    if (changes!.Files.Count != 0 || changes.PatchBytes != 0)
                    {
                        throw new InvalidOperationException($"an untouched tree reported changes: {string.Join(", ", changes.Files.Take(5))}");
                    }

                    var tStatus = await Timing.TimeAsync(() => AgentStatusAsync(created.WorkPath, cancellationToken));
                    if (measured)
                    {
                        table.Row($"create-{key}", $"(c) Worktree.CreateAsync, owner {label}").Add(tCreate);
                        AddCalls(table, $"create-{key}", createCalls);
                        table.Row($"create-rest-{key}", "      rest: chown -R, gitdirs, index copy").Add(tCreate.TotalMilliseconds - createCalls.Sum(c => c.Ms));
                        table.Row($"collect-{key}", $"(d) CollectChangesAsync, untouched, owner {owner}").Add(tCollect);
                        AddCalls(table, $"collect-{key}", collectCalls);
                        table.Row($"status-{key}", $"(e) agent's first `git status` in work/, owner {owner}").Add(tStatus);
                    }

                    pending.Add(new PendingRemoval(
                        measured ? table.Row($"delete-{key}", $"(c) Worktree.Delete(), owner {owner}") : null,
                        () =>
                        {
                            created.Delete();
                            return Task.CompletedTask;
                        }));
                }
            }

            // Warm-up trees first (not measured), then the measured ones in the order they were made.
            foreach (var removal in pending.OrderBy(p => p.Row is not null).ToList())
            {
                var elapsed = await Timing.TimeAsync(removal.RunAsync);
                pending.Remove(removal);
                removal.Row?.Add(elapsed);
            }

            Console.Error.WriteLine();
            if (libgitLeftFolders > 0)
            {
                table.Note($"note: LibGit2Sharp's Prune left the worktree folder behind {libgitLeftFolders} time(s); its deletion is included in (b) remove.");
            }

            if (FileSystems.NoJournalExt4(repo) is { } device)
            {
                table.Note($"note: {repo} is on ext4 without a journal ({device}). Such a filesystem does not reuse an inode for 60-360 s after\n"
                    + "    it was freed, and each inode allocation scans past the recently freed ones, so a checkout made soon after a 50k-file\n"
                    + "    tree was deleted is many times slower (the scan is quadratic overall). Every tree above is therefore deleted only\n"
                    + "    after all checkouts were made, and back-to-back runs of this benchmark should be ~6 minutes apart.");
            }

            Console.WriteLine(table.Render());
        }
        finally
        {
            foreach (var removal in pending)
            {
                try
                {
                    await removal.RunAsync();
                }
                catch (Exception e) when (e is LibGit2Sharp.LibGit2SharpException or InvalidOperationException or IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"warning: {e.Message}");
                }
            }

            TreeDeletion.Delete(scratch);
            TreeDeletion.Delete(runnerScratch);
            await CleanUpAsync(repo, libgit, branchPrefix);
        }
    }

    private sealed record PendingRemoval(Samples? Row, Func<Task> RunAsync);

    /// <summary>One row per git call the runner made (GitCli logs each one's time), in call order.</summary>
    private static void AddCalls(ResultTable table, string keyPrefix, IReadOnlyList<CallEvent> calls)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var call in calls)
        {
            var name = "      " + Timing.GitLabel(call.Name);
            var n = seen[name] = seen.GetValueOrDefault(name) + 1;
            table.Row($"{keyPrefix}-{name}#{n}", name).Add(call.Ms);
        }
    }

    /// <summary>What the agent's first git command in the container pays: git with the checkout's own git dir.</summary>
    private static Task<string> AgentStatusAsync(string workPath, CancellationToken cancellationToken) =>
        Shell.RunAsync("git", ["-c", "safe.directory=*", "status", "--porcelain"], cancellationToken, workingDirectory: workPath);

    /// <summary>Drops this session's worktree registrations and branches, whatever state a failure left them in.</summary>
    private static async Task CleanUpAsync(string repo, LibGit2Sharp.Repository libgit, string branchPrefix)
    {
        try
        {
            foreach (var worktree in libgit.Worktrees.Where(w => w.Name.StartsWith(branchPrefix, StringComparison.Ordinal)).ToList())
            {
                libgit.Worktrees.Prune(worktree, ifLocked: true);
            }

            foreach (var branch in libgit.Branches.Where(b => b.FriendlyName.StartsWith(branchPrefix, StringComparison.Ordinal)).ToList())
            {
                libgit.Branches.Remove(branch);
            }

            await Shell.GitAsync(repo, CancellationToken.None, "worktree", "prune");
        }
        catch (Exception e) when (e is LibGit2Sharp.LibGit2SharpException or InvalidOperationException)
        {
            Console.Error.WriteLine($"warning: cleaning up {repo} failed: {e.Message}");
        }
    }
}
