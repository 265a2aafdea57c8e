using Docker.DotNet.Models;
using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Contracts;

/// <summary>
/// What the container lets an agent do, and what it keeps from it, whatever runtime it runs under: run under runc by
/// <see cref="IsolationTests"/> and under gVisor by Gvisor/GvisorIsolationTests.
/// </summary>
public abstract class IsolationContract(IEngineUnderTest target)
{
    protected IEngineUnderTest Target { get; } = target;

    [Fact]
    public async Task Git_works_inside_the_container()
    {
        await using var h = await Target.HarnessAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "git",
            "@write src/a.txt agent work",
            "@run 0 git status --short",
            "@run 0 git diff --stat HEAD",
            "@run 0 git add -A && git commit -qm 'agent commit' && git log --oneline -2"))).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
        Assert.All(result.CommandsRun, c => Assert.Equal(0, c.ExitCode));
        Assert.Contains("?? src/a.txt", result.Evidence, StringComparison.Ordinal);
        Assert.Contains("agent commit", result.Evidence, StringComparison.Ordinal);
        Assert.Contains("initial", result.Evidence, StringComparison.Ordinal);

        // Committing inside the task does not hide the change: the patch is taken against the base commit.
        Assert.Equal(["src/a.txt"], result.FilesChanged);
    }

    [Fact]
    public async Task The_agent_cannot_change_the_host_repository_config_hooks_refs_or_objects()
    {
        await using var h = await Target.HarnessAsync();
        var before = h.Repository.GitStateFingerprint();
        var objectsBefore = h.Repository.ObjectFiles();
        var hostGit = h.Repository.GitDir;
        var objects = Path.Combine(hostGit, "objects");

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "hostile",
            "@run * git config core.fsmonitor 'touch /tmp/PWNED' && git config --get core.fsmonitor",
            $"@run * echo planted > {objects}/planted",
            $"@run * touch {objects}/info/alternates",
            $"@run * git --git-dir={hostGit} config core.fsmonitor 'touch /tmp/PWNED'",
            $"@run * mkdir -p {hostGit}/hooks && echo 'touch /tmp/PWNED' > {hostGit}/hooks/post-checkout",
            $"@run * git --git-dir={hostGit} update-ref refs/heads/main HEAD~0",
            "@run * git commit --allow-empty -qm planted-object"))).Results);

        // The task's own repository is the agent's to change (its fsmonitor setting stays in the task's .git)...
        Assert.Equal(0, result.CommandsRun[0].ExitCode);

        // ...but the host's objects are read-only and its config, hooks and refs are not in the container at all. (The
        // folders above the objects mount are the container's own, in its /tmp: gVisor makes them writable, runc does
        // not; what is written there stays in the container, as the host's hooks folder shows below.)
        Assert.All(result.CommandsRun.Skip(1).Take(5).Where((_, i) => i != 3), c => Assert.NotEqual(0, c.ExitCode));
        Assert.False(File.Exists(Path.Combine(hostGit, "hooks", "post-checkout")));
        Assert.Equal(before, h.Repository.GitStateFingerprint());
        var objectsAfter = h.Repository.ObjectFiles();
        Assert.All(objectsBefore, o => Assert.Equal(o.Value, objectsAfter[o.Key]));
        Assert.False(File.Exists(Path.Combine(objects, "planted")));
        Assert.False(File.Exists("/tmp/PWNED"));
        Assert.Equal("", h.Repository.Git("status", "--porcelain"));
    }

    [Fact]
    public async Task Read_only_mode_refuses_writes_to_the_worktree()
    {
        await using var h = await Target.HarnessAsync(c => c with { SandboxMode = SandboxMode.ReadOnly });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "reader",
            "@run 0 cat README.md",
            "@run * echo changed >> README.md",
            "@write src/new.txt should not land",
            "@run * rm src/app.txt"))).Results);

        Assert.Equal(0, result.CommandsRun[0].ExitCode);
        Assert.NotEqual(0, result.CommandsRun[1].ExitCode);
        Assert.NotEqual(0, result.CommandsRun[2].ExitCode);
        Assert.Empty(result.FilesChanged);
        Assert.Equal("", result.Patch);
    }

    [Fact]
    public async Task Workspace_write_mode_keeps_the_root_filesystem_read_only_but_tmp_writable()
    {
        await using var h = await Target.HarnessAsync();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "rootfs", "@run * touch /etc/planted", "@run * touch /usr/local/bin/codex", "@run 0 touch /tmp/scratch && echo tmp-ok"))).Results);

        Assert.NotEqual(0, result.CommandsRun[0].ExitCode);
        Assert.NotEqual(0, result.CommandsRun[1].ExitCode);
        Assert.Equal(0, result.CommandsRun[2].ExitCode);
    }

    [Fact]
    public async Task Danger_full_access_mode_makes_the_root_filesystem_writable()
    {
        await using var h = await Target.HarnessAsync(c => c with { SandboxMode = SandboxMode.DangerFullAccess });

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("rootfs", "@run 0 touch /home/codex/planted"))).Results);

        Assert.Equal(0, Assert.Single(result.CommandsRun).ExitCode);
    }

    [Fact]
    public async Task The_container_runs_unprivileged_with_no_capabilities_and_the_policy_limits()
    {
        await using var h = await Target.HarnessAsync();
        using var client = Target.Engine.Connection.CreateClient();
        ContainerInspectResponse? inspected = null;
        h.Engine.ContainerStarted += id => inspected = client.Containers.InspectContainerAsync(id).GetAwaiter().GetResult();

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task(
            "inspect", "@run 0 id -u", "@run 0 grep CapEff /proc/self/status", "@run * ls /var/run/docker.sock", "@run * unshare -r true"))).Results);

        var container = inspected ?? throw new InvalidOperationException("the container was never inspected");
        var host = container.HostConfig!;
        Assert.Equal(["ALL"], host.CapDrop);
        Assert.Contains("no-new-privileges", host.SecurityOpt);
        Assert.True(host.ReadonlyRootfs);
        Assert.True(host.Init);
        Assert.Equal(2L * 1024 * 1024 * 1024, host.Memory);
        Assert.Equal(1_000_000_000, host.NanoCPUs);
        Assert.Equal(256, host.PidsLimit);
        Assert.Equal("none", host.NetworkMode);
        Assert.Equal(Target.Runtime ?? "runc", host.Runtime);
        Assert.False(host.Privileged);
        Assert.Contains("/tmp", host.Tmpfs!.Keys);
        Assert.NotEqual("0", container.Config!.User.Split(':')[0]);
        Assert.Equal(3, container.Mounts.Count);
        Assert.All(container.Mounts, m => Assert.True(
            m.Source.StartsWith(h.Runner.Repository.RunnerDir, StringComparison.Ordinal) || (m.Source == h.Runner.Repository.ObjectsDir && !m.RW),
            $"unexpected mount {m.Source} -> {m.Destination}"));
        Assert.DoesNotContain(container.Mounts, m => m.Source.Contains("docker.sock", StringComparison.Ordinal));
        Assert.Equal(h.Runner.Image, container.Config.Image);
        Assert.Contains(new KeyValuePair<string, string>(Labels.Task, "inspect"), container.Config.Labels);
        Assert.Contains(container.Config.Labels, l => l.Key == Labels.Run);

        Assert.Equal("1000", result.CommandsRun[0].OutputTail.Trim());
        Assert.Contains("0000000000000000", result.CommandsRun[1].OutputTail, StringComparison.Ordinal);
        Assert.NotEqual(0, result.CommandsRun[2].ExitCode);

        // Docker's seccomp profile refuses a new user namespace under runc; gVisor serves the call itself, in its own kernel.
        if (Target.Runtime is null)
        {
            Assert.NotEqual(0, result.CommandsRun[3].ExitCode);
        }
    }

    [Fact]
    public async Task Only_the_env_passthrough_variables_enter_the_container()
    {
        var host = new Dictionary<string, string> { ["CODEX_API_KEY"] = "sk-test-passed", ["UNLISTED_SECRET"] = "must-not-pass", ["EXTRA_VAR"] = "extra-passed" };
        await using var h = await Target.HarnessAsync(
            c => c with { EnvPassthrough = ["CODEX_API_KEY", "EXTRA_VAR", "NOT_SET_ON_HOST"] }, name => host.GetValueOrDefault(name));
        using var client = Target.Engine.Connection.CreateClient();
        IList<string>? env = null;
        h.Engine.ContainerStarted += id => env = client.Containers.InspectContainerAsync(id).GetAwaiter().GetResult().Config!.Env;

        var result = Assert.Single((await h.RunAsync(RunnerHarness.Task("env", "@run 0 env | sort"))).Results);

        Assert.Equal(TaskStatus.Success, result.Status);
        var variables = env ?? throw new InvalidOperationException("the container was never inspected");
        var names = variables.Select(e => e[..e.IndexOf('=', StringComparison.Ordinal)]).ToHashSet();
        Assert.Subset(new HashSet<string> { "CODEX_API_KEY", "EXTRA_VAR", "CODEX_HOME", "HOME", "PATH" }, names);
        Assert.Contains("CODEX_API_KEY=sk-test-passed", variables);
        Assert.DoesNotContain(variables, e => e.Contains("must-not-pass", StringComparison.Ordinal));
    }
}
