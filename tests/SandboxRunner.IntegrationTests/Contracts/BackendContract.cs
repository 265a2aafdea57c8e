using System.Formats.Tar;
using System.Text;
using SandboxRunner.Boxes;

namespace SandboxRunner.IntegrationTests.Contracts;

/// <summary>
/// What every <see cref="ITaskBackend"/> must do, one body for all of them: the Docker backend runs it in the
/// integration tests (DockerBackendContractTests), the fake in the unit tests (FakeBackendContractTests, which
/// compiles this file too), and a new backend (a swarm) joins with one class that names its target. Boxes run
/// <see cref="BoxScript"/>s, which a real backend runs as <c>sh -c</c> and the fake plays step by step. Every test
/// works in a scope of its own and removes what it made.
/// </summary>
public abstract partial class BackendContract : IAsyncLifetime
{
    protected BoxScope Scope { get; } = new("contract-" + Guid.NewGuid().ToString("N")[..10]);

    protected abstract ITaskBackend Backend { get; }

    /// <summary>An image with <c>sh</c>, <c>printf</c>, <c>cat</c>, <c>sleep</c> and a world-writable <c>/var/tmp</c>.</summary>
    protected abstract string Image { get; }

    /// <summary>The egress proxy's image (images/egress-proxy), present on the backend.</summary>
    protected abstract Task<string> ProxyImageAsync();

    /// <summary>
    /// Leaves a box (created, never started) with exactly <paramref name="labels"/>, as a process that was killed before it
    /// could remove it would (its owner label naming that process); returns its id.
    /// </summary>
    protected abstract Task<string> LeaveBoxAsync(IReadOnlyDictionary<string, string> labels);

    /// <summary>Whether the box <paramref name="id"/> is still on the backend, whatever its labels.</summary>
    protected abstract Task<bool> HoldsAsync(string id);

    /// <summary>Tells a backend that cannot run <c>sh</c> what <paramref name="script"/>'s command does; a real backend needs nothing.</summary>
    protected virtual void Teach(BoxScript script)
    {
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var box in await Backend.FindBoxesAsync(Scope, null, CancellationToken.None))
        {
            await Backend.RemoveRunAsync(Scope, box.RunId ?? "", CancellationToken.None);
        }
    }

    protected BoxSpec Box(BoxScript script, BoxIdentity? identity = null)
    {
        Teach(script);
        return new BoxSpec
        {
            Image = Image,
            Entrypoint = [],
            Command = script.Command,
            User = "65534:65534",
            WorkingDirectory = "/",
            Environment = new Dictionary<string, string>(),
            Limits = new ResourceLimits(MemoryBytes: 256L * 1024 * 1024, Cpus: 0.5, Pids: 64, TmpBytes: 16L * 1024 * 1024),
            Identity = identity ?? new BoxIdentity("contract-task"),
        };
    }

    protected Task<IRunSite> SiteAsync(string runId = "run-1", NetworkIntent network = NetworkIntent.None) =>
        Backend.OpenRunSiteAsync(new RunSiteSpec(Scope, runId, network), CancellationToken.None);

    private static readonly TimeSpan Long = TimeSpan.FromMinutes(2);

    private static async Task<(BoxExit Exit, string Stdout, string Stderr)> RunAsync(
        ITaskBox box, TimeSpan? timeout = null, Action? onStarted = null, CancellationToken limitStop = default, CancellationToken cancellationToken = default)
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var exit = await box.RunAsync(
            timeout ?? Long,
            (stream, chunk) => (stream == LogStream.Stdout ? stdout : stderr).Append(Encoding.UTF8.GetString(chunk)),
            onStarted,
            limitStop,
            cancellationToken);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task A_box_runs_its_command_and_hands_on_both_streams_in_order_and_its_exit_code()
    {
        await using var site = await SiteAsync();
        await using var box = await site.CreateBoxAsync(Box(new(new BoxStep.Out("one"), new BoxStep.Err("oops"), new BoxStep.Out("two"), new BoxStep.Exit(3))), CancellationToken.None);

        var (exit, stdout, stderr) = await RunAsync(box);

        Assert.Equal(3, exit.ExitCode);
        Assert.False(exit.TimedOut);
        Assert.False(exit.Stopped);
        Assert.Equal("one\ntwo\n", stdout);
        Assert.Equal("oops\n", stderr);
    }

    [Fact]
    public async Task A_box_still_running_at_its_timeout_is_killed_and_has_no_exit_code()
    {
        await using var site = await SiteAsync();
        await using var box = await site.CreateBoxAsync(Box(new(new BoxStep.Out("started"), new BoxStep.Hang())), CancellationToken.None);

        var (exit, _, _) = await RunAsync(box, timeout: TimeSpan.FromSeconds(1));

        Assert.True(exit.TimedOut);
        Assert.False(exit.Stopped);
        Assert.Null(exit.ExitCode);
    }

    [Fact]
    public async Task A_box_whose_limit_stop_fires_is_killed_and_reported_stopped_not_timed_out()
    {
        await using var site = await SiteAsync();
        await using var box = await site.CreateBoxAsync(Box(new(new BoxStep.Hang())), CancellationToken.None);
        using var limit = new CancellationTokenSource();

        var (exit, _, _) = await RunAsync(box, limitStop: limit.Token, onStarted: limit.Cancel);

        Assert.True(exit.Stopped);
        Assert.False(exit.TimedOut);
        Assert.Null(exit.ExitCode);
    }

    [Fact]
    public async Task Cancelling_a_running_box_kills_it_and_throws()
    {
        await using var site = await SiteAsync();
        await using var box = await site.CreateBoxAsync(Box(new(new BoxStep.Hang())), CancellationToken.None);
        using var cancel = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RunAsync(box, cancellationToken: cancel.Token, onStarted: cancel.Cancel));

        Assert.DoesNotContain(await Backend.FindBoxesAsync(Scope, "run-1", CancellationToken.None), b => b.Id == box.Id && b.Running);
    }

    [Fact]
    public async Task A_file_the_box_wrote_is_read_back_and_a_missing_or_too_large_one_is_null()
    {
        await using var site = await SiteAsync();
        await using var box = await site.CreateBoxAsync(
            Box(new(new BoxStep.Write("/var/tmp/out.txt", "hello"), new BoxStep.Exit(0))) with { ReadOnlyRoot = false }, CancellationToken.None);
        await RunAsync(box);

        Assert.Equal("hello", Encoding.UTF8.GetString(Assert.IsType<byte[]>(await box.ReadFileAsync("/var/tmp/out.txt", 1024, CancellationToken.None))));
        Assert.Null(await box.ReadFileAsync("/var/tmp/out.txt", 4, CancellationToken.None));
        Assert.Null(await box.ReadFileAsync("/var/tmp/missing.txt", 1024, CancellationToken.None));
    }

    [Fact]
    public async Task A_box_with_a_read_only_root_writes_nothing_outside_its_workspace()
    {
        await using var site = await SiteAsync();
        await using var box = await site.CreateBoxAsync(Box(new(new BoxStep.Write("/var/tmp/out.txt", "hello"), new BoxStep.Exit(0))), CancellationToken.None);
        await RunAsync(box);

        Assert.Null(await box.ReadFileAsync("/var/tmp/out.txt", 1024, CancellationToken.None));
    }

    [Fact]
    public async Task An_archive_put_into_a_scratch_folder_before_start_is_what_the_command_sees_and_comes_back_out()
    {
        await using var site = await SiteAsync();
        await using var box = await site.CreateBoxAsync(
            Box(new(new BoxStep.Cat("/work/in.txt"), new BoxStep.Exit(0))) with { Workspace = [new BoxMount.Scratch("/work")] }, CancellationToken.None);
        await box.PutArchiveAsync("/work", async (tar, ct) =>
        {
            await using var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true);
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "in.txt") { DataStream = new MemoryStream("from the host"u8.ToArray()), Mode = (UnixFileMode)0b110_100_100 }, ct);
        }, CancellationToken.None);

        var (_, stdout, _) = await RunAsync(box);
        var back = await box.GetArchiveAsync("/work", async (tar, ct) =>
        {
            var files = new Dictionary<string, string>(StringComparer.Ordinal);
            await using var reader = new System.Formats.Tar.TarReader(tar);
            while (await reader.GetNextEntryAsync(copyData: true, ct) is { } entry)
            {
                if (entry.DataStream is { } data)
                {
                    files[entry.Name] = await new StreamReader(data).ReadToEndAsync(ct);
                }
            }

            return files;
        }, CancellationToken.None);

        Assert.Equal("from the host", stdout);
        Assert.Equal("from the host", back["work/in.txt"]);
    }

    [Fact]
    public async Task What_a_box_wrote_to_its_own_filesystem_shows_in_its_changes_and_written_bytes()
    {
        await using var site = await SiteAsync();
        await using var box = await site.CreateBoxAsync(
            Box(new(new BoxStep.Write("/var/tmp/changed.txt", "twelve bytes"), new BoxStep.Exit(0))) with { ReadOnlyRoot = false }, CancellationToken.None);
        await RunAsync(box);

        var changes = await box.ChangesAsync(1000, CancellationToken.None);
        var written = await box.WrittenBytesAsync(CancellationToken.None);

        var listed = Assert.IsAssignableFrom<IReadOnlyList<PathChange>>(changes);
        Assert.Contains(new PathChange("/var/tmp/changed.txt", PathChangeKind.Added), listed);
        Assert.Contains(listed, c => c.Path == "/var/tmp" && c.Kind == PathChangeKind.Modified);
        Assert.Null(await box.ChangesAsync(1, CancellationToken.None));
        Assert.True(written is null or >= 12, $"written bytes: {written}");
    }

    [Fact]
    public async Task A_committed_box_becomes_an_image_whose_boxes_start_with_what_it_wrote()
    {
        var tag = $"sandbox-runner-contract/commit:{Guid.NewGuid():N}";
        await using var site = await SiteAsync();
        if (!Backend.Capabilities.Snapshots)
        {
            // The one capability-based opt-out: a backend without snapshots (the swarm's) refuses a commit, saying so.
            await using var refused = await site.CreateBoxAsync(Box(new(new BoxStep.Exit(0))) with { ReadOnlyRoot = false }, CancellationToken.None);
            await RunAsync(refused);
            await Assert.ThrowsAsync<NotSupportedException>(() => refused.CommitAsync(new ImageCommit(tag, new Dictionary<string, string>(), []), CancellationToken.None));
            return;
        }

        await using (var box = await site.CreateBoxAsync(
            Box(new(new BoxStep.Write("/var/tmp/kept.txt", "kept"), new BoxStep.Exit(0))) with { ReadOnlyRoot = false }, CancellationToken.None))
        {
            await RunAsync(box);
            await box.CommitAsync(new ImageCommit(tag, new Dictionary<string, string> { [Labels.Scope] = Scope.Repository! }, []), CancellationToken.None);
        }

        try
        {
            Assert.True(await Backend.Images.ExistsAsync(tag, CancellationToken.None));
            await using var next = await site.CreateBoxAsync(Box(new(new BoxStep.Exit(0))) with { Image = tag }, CancellationToken.None);
            Assert.Equal("kept", Encoding.UTF8.GetString(Assert.IsType<byte[]>(await next.ReadFileAsync("/var/tmp/kept.txt", 1024, CancellationToken.None))));
        }
        finally
        {
            await Backend.RemoveRunAsync(Scope, "run-1", CancellationToken.None);
            await Backend.Images.DeleteAsync(tag, CancellationToken.None);
        }

        Assert.False(await Backend.Images.ExistsAsync(tag, CancellationToken.None));
    }

    [Fact]
    public async Task A_started_box_runs_commands_in_it_with_their_own_output_and_exit_code()
    {
        await using var site = await SiteAsync();
        await using var box = await site.CreateBoxAsync(Box(new(new BoxStep.Hang()), new BoxIdentity("contract-task", Purpose: BoxPurpose.Verify)), CancellationToken.None);
        var command = new BoxScript(new BoxStep.Out("in the box"), new BoxStep.Exit(4));
        Teach(command);
        await box.StartAsync(CancellationToken.None);
        var output = new StringBuilder();

        var code = await box.ExecAsync(new BoxCommand(command.Command, "65534:65534", "/"), (_, chunk) => output.Append(Encoding.UTF8.GetString(chunk)), CancellationToken.None);
        await box.KillAsync(CancellationToken.None);

        Assert.Equal(4, code);
        Assert.Equal("in the box\n", output.ToString());
    }

    [Fact]
    public async Task Boxes_are_found_by_scope_and_run_with_their_task_attempt_and_role_and_a_disposed_one_is_gone()
    {
        await using var site = await SiteAsync();
        var box = await site.CreateBoxAsync(Box(new(new BoxStep.Exit(0)), new BoxIdentity("t1", Attempt: 2, Purpose: BoxPurpose.Verify)), CancellationToken.None);

        var found = Assert.Single(await Backend.FindBoxesAsync(Scope, "run-1", CancellationToken.None));
        Assert.Equal(box.Id, found.Id);
        Assert.Equal(("run-1", "t1", Labels.VerifyRole, false), (found.RunId, found.TaskId, found.Role, found.Running));
        Assert.Equal("2", found.Labels[Labels.Attempt]);
        Assert.Empty(await Backend.FindBoxesAsync(Scope, "another-run", CancellationToken.None));
        Assert.Empty(await Backend.FindBoxesAsync(new BoxScope("contract-elsewhere"), null, CancellationToken.None));

        await box.DisposeAsync();

        Assert.Empty(await Backend.FindBoxesAsync(Scope, "run-1", CancellationToken.None));
    }

    [Fact]
    public async Task Removing_a_run_removes_its_boxes_and_no_other_runs_and_leaves_living_owners_boxes_to_them()
    {
        await using var first = await SiteAsync("run-a");
        await using var second = await SiteAsync("run-b");
        await first.CreateBoxAsync(Box(new(new BoxStep.Exit(0))), CancellationToken.None);
        await using var kept = await second.CreateBoxAsync(Box(new(new BoxStep.Exit(0))), CancellationToken.None);

        Assert.Equal(0, await Backend.RemoveOrphansAsync(Scope, CancellationToken.None));
        Assert.Equal(1, await Backend.RemoveRunAsync(Scope, "run-a", CancellationToken.None));

        Assert.Empty(await Backend.FindBoxesAsync(Scope, "run-a", CancellationToken.None));
        Assert.Equal(kept.Id, Assert.Single(await Backend.FindBoxesAsync(Scope, "run-b", CancellationToken.None)).Id);
    }

    [Theory]
    [InlineData(Labels.HostFilesProbeRole)]
    [InlineData(Labels.ProbeRole)]
    public async Task A_probe_a_killed_process_left_goes_with_any_sweep_and_a_living_processes_probe_stays(string role)
    {
        var dead = await LeaveBoxAsync(new Dictionary<string, string> { [Labels.Role] = role, [Labels.Owner] = $"{Environment.MachineName}/{DeadPid()}" });
        var living = await LeaveBoxAsync(new Dictionary<string, string> { [Labels.Role] = role, [Labels.Owner] = Labels.CurrentOwner });
        try
        {
            // A sweep of another scope altogether: probes carry no repository, so none selects them but by their owner.
            await Backend.RemoveOrphansAsync(new BoxScope("contract-elsewhere"), CancellationToken.None);

            Assert.False(await HoldsAsync(dead));
            Assert.True(await HoldsAsync(living));
        }
        finally
        {
            await Backend.RemoveOrphansAsync(Scope, CancellationToken.None);
            await RemoveLeftAsync(living);
        }
    }

    /// <summary>Removes a box <see cref="LeaveBoxAsync"/> left.</summary>
    protected abstract Task RemoveLeftAsync(string id);

    private static int DeadPid()
    {
        for (var pid = 4_000_000; ; pid++)
        {
            if (!Directory.Exists($"/proc/{pid}"))
            {
                return pid;
            }
        }
    }

    [Theory]
    [InlineData(NetworkIntent.None)]
    [InlineData(NetworkIntent.Open)]
    public async Task A_site_without_an_allowlist_has_no_egress_and_runs_boxes(NetworkIntent network)
    {
        await using var site = await SiteAsync(network: network);
        await using var box = await site.CreateBoxAsync(Box(new(new BoxStep.Exit(0))), CancellationToken.None);

        var (exit, _, _) = await RunAsync(box);

        Assert.Equal(network, site.Network);
        Assert.Null(site.Egress);
        Assert.Equal(0, exit.ExitCode);
        Assert.Empty(await site.RefusedHostsAsync(box, DateTimeOffset.UnixEpoch, CancellationToken.None));
    }

    [Fact]
    public async Task An_allowlist_site_tells_its_boxes_where_the_proxy_is_and_takes_proxy_and_network_away_when_disposed()
    {
        var since = DateTimeOffset.UtcNow;
        var route = new ModelRoute("https://api.example.test/v1", "sk-contract-0123456789");
        if (!Backend.Capabilities.Allowlist)
        {
            // Capability-based opt-out: a backend without allowlist sites refuses one, saying so, and makes nothing.
            await Assert.ThrowsAsync<NotSupportedException>(() => Backend.OpenRunSiteAsync(
                new RunSiteSpec(Scope, "run-allow", NetworkIntent.Allowlist, new EgressSpec("unused", ["allowed.example.test"], route)), CancellationToken.None));
            Assert.Empty(await Backend.FindBoxesAsync(Scope, "run-allow", CancellationToken.None));
            return;
        }

        var site = await Backend.OpenRunSiteAsync(
            new RunSiteSpec(Scope, "run-allow", NetworkIntent.Allowlist, new EgressSpec(await ProxyImageAsync(), ["allowed.example.test"], route)), CancellationToken.None);
        try
        {
            await using var box = await site.CreateBoxAsync(Box(new(new BoxStep.Out("behind the proxy"), new BoxStep.Exit(0))), CancellationToken.None);

            var (exit, stdout, _) = await RunAsync(box);

            Assert.Equal(0, exit.ExitCode);
            Assert.Equal("behind the proxy\n", stdout);
            var egress = Assert.IsType<EgressEndpoints>(site.Egress);
            Assert.Equal(("http://sandbox-proxy:8080", "http://sandbox-proxy:3128"), (egress.ModelBaseUrl, egress.ForwardProxyUrl));
            Assert.Equal(["allowed.example.test"], egress.Allowlist);
            Assert.Contains("sandbox-proxy", egress.NoProxy.Split(','));
            Assert.Empty(await site.RefusedHostsAsync(box, since, CancellationToken.None));
        }
        finally
        {
            await site.DisposeAsync();
        }

        Assert.Null(site.TeardownError);
        Assert.Empty(await Backend.FindBoxesAsync(Scope, "run-allow", CancellationToken.None));
    }
}

/// <summary>One step of what a contract box does: portable between <c>sh</c> and a fake that plays it.</summary>
public abstract record BoxStep
{
    /// <summary>A line on standard output.</summary>
    public sealed record Out(string Text) : BoxStep;

    /// <summary>A line on standard error.</summary>
    public sealed record Err(string Text) : BoxStep;

    /// <summary>Writes <see cref="Text"/> (no newline) to a file.</summary>
    public sealed record Write(string Path, string Text) : BoxStep;

    /// <summary>A file's content on standard output.</summary>
    public sealed record Cat(string Path) : BoxStep;

    /// <summary>Waits until killed.</summary>
    public sealed record Hang : BoxStep;

    public sealed record Exit(int Code) : BoxStep;

    /// <summary>The step in <c>sh</c>; texts and paths hold no quote, so single quotes carry them verbatim.</summary>
    public string Shell => this switch
    {
        Out o => $"printf '%s\\n' '{o.Text}'",
        Err e => $"printf '%s\\n' '{e.Text}' >&2",
        Write w => $"printf '%s' '{w.Text}' > '{w.Path}'",
        Cat c => $"cat '{c.Path}'",
        Hang => "sleep 600",
        Exit x => $"exit {x.Code}",
        _ => throw new InvalidOperationException($"no shell form for {this}"),
    };
}

/// <summary>What a contract box runs.</summary>
public sealed record BoxScript(params BoxStep[] Steps)
{
    public IReadOnlyList<string> Command => ["sh", "-c", string.Join("; ", Steps.Select(s => s.Shell))];

    /// <summary>How a fake finds the script a box's command came from.</summary>
    public string Key => string.Join('\n', Command);
}
