// Docker.DotNet's models mark every field nullable; these tests read fields the translation always sets.
#nullable disable

using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Swarm;

namespace SandboxRunner.Tests.Boxes;

/// <summary>A box in swarm's shape: the local box's hardening wherever the service API (1.41) can say it, the gate where it cannot.</summary>
public sealed class ServiceSpecsTests
{
    private static readonly IReadOnlyDictionary<string, string> Labels = new Dictionary<string, string> { ["sandbox-runner.run"] = "run-1", ["sandbox-runner.task"] = "t1" };

    private static BoxSpec Box() => new()
    {
        Image = "sandbox-runner/fake-codex:dev",
        Command = ["codex", "exec"],
        User = "1000:1000",
        WorkingDirectory = "/workspace",
        Environment = new Dictionary<string, string> { ["HOME"] = "/home/agent" },
        Workspace = [new BoxMount.Scratch("/workspace")],
        Limits = new ResourceLimits(MemoryBytes: 512L * 1024 * 1024, Cpus: 1.5, Pids: 256, TmpBytes: 64L * 1024 * 1024),
        MaxLogBytes = 10_000_000,
        Identity = new BoxIdentity("t1"),
    };

    private static Docker.DotNet.Models.ServiceSpec Spec(BoxSpec box) =>
        ServiceSpecs.For(box, "sandbox-runner-x", "localhost:5000/fake-codex:abc", new(["/entry"], ["default-cmd"]), Labels, ["net-1"], ["node.id!=n2"]);

    private static SwarmGate.Launch Launch(BoxSpec box) => ServiceSpecs.LaunchOf(box, new(["/entry"], ["default-cmd"]));

    [Fact]
    public void A_box_is_a_one_task_replicated_job_that_never_restarts_placed_by_swarm_within_the_constraints()
    {
        var spec = Spec(Box());

        Assert.Equal((1UL, 1UL), (spec.Mode.ReplicatedJob.MaxConcurrent, spec.Mode.ReplicatedJob.TotalCompletions));
        Assert.Equal("none", spec.TaskTemplate.RestartPolicy.Condition);
        Assert.Equal(["node.id!=n2"], spec.TaskTemplate.Placement.Constraints);
        Assert.Equal(["net-1"], spec.TaskTemplate.Networks.Select(n => n.Target));
        Assert.Equal("localhost:5000/fake-codex:abc", spec.TaskTemplate.ContainerSpec.Image);
    }

    [Fact]
    public void A_warm_box_is_a_replicated_service_of_one_replica_that_never_restarts_so_its_labels_can_change_without_a_new_task()
    {
        var spec = ServiceSpecs.For(Box(), "sandbox-runner-warm-x", "localhost:5000/fake-codex:abc", new(["/entry"], []), Labels, [], ["node.id==n1"], warm: true);

        Assert.Null(spec.Mode.ReplicatedJob);
        Assert.Equal(1UL, spec.Mode.Replicated.Replicas);
        Assert.Equal("none", spec.TaskTemplate.RestartPolicy.Condition);
        Assert.Equal(["node.id==n1"], spec.TaskTemplate.Placement.Constraints);
    }

    [Fact]
    public void Nothing_of_the_task_is_in_the_service_neither_its_environment_nor_its_argv()
    {
        var container = Spec(Box() with { Environment = new Dictionary<string, string> { ["OPENAI_API_KEY"] = "sk-secret" } }).TaskTemplate.ContainerSpec;

        Assert.Empty(container.Env ?? []);
        Assert.Empty(container.Args ?? []);
        Assert.DoesNotContain("sk-secret", System.Text.Json.JsonSerializer.Serialize(container), StringComparison.Ordinal);
    }

    [Fact]
    public void A_box_runs_as_its_user_with_no_capability_a_read_only_root_and_its_limits_as_service_resources()
    {
        var spec = Spec(Box());
        var container = spec.TaskTemplate.ContainerSpec;
        var limits = spec.TaskTemplate.Resources.Limits;

        Assert.Equal("1000:1000", container.User);
        Assert.Equal(["ALL"], container.CapabilityDrop);
        Assert.Empty(container.CapabilityAdd);
        Assert.True(container.ReadOnly);
        Assert.True(container.Init);
        Assert.True(container.Privileges.NoNewPrivileges);
        Assert.Equal((512L * 1024 * 1024, 1_500_000_000L, 256L), (limits.MemoryBytes, limits.NanoCPUs, limits.Pids));
        var tmp = Assert.Single(container.Mounts, m => m.Target == "/tmp");
        Assert.Equal(("tmpfs", 64L * 1024 * 1024), (tmp.Type, tmp.TmpfsOptions.SizeBytes));
        Assert.Equal("10000000", spec.TaskTemplate.LogDriver.Options["max-size"]);
    }

    [Fact]
    public void Labels_go_on_the_service_and_its_container()
    {
        var spec = Spec(Box());

        Assert.Equal(Labels, spec.Labels);
        Assert.Equal(Labels, spec.TaskTemplate.ContainerSpec.Labels);
    }

    [Fact]
    public void The_command_waits_at_the_gate_on_its_open_standard_input_then_runs_under_no_new_privileges_with_the_boxes_entrypoint_and_command()
    {
        var container = Spec(Box()).TaskTemplate.ContainerSpec;

        Assert.Equal(["/bin/sh", "-c", ServiceSpecs.Gate, "sandbox-runner-gate"], container.Command);
        Assert.Equal(["/entry", "codex", "exec"], Launch(Box()).Argv);
        Assert.Equal("/workspace", Launch(Box()).WorkingDirectory);
        Assert.Contains("setpriv --no-new-privs", ServiceSpecs.Gate, StringComparison.Ordinal);
        Assert.True(container.OpenStdin);
        Assert.Contains(container.Mounts, m => m.Type == "volume" && m.Target == "/workspace");
    }

    [Fact]
    public void An_empty_entrypoint_runs_the_command_alone_and_a_box_with_no_command_runs_the_images()
    {
        Assert.Equal(["codex", "exec"], Launch(Box() with { Entrypoint = [] }).Argv);
        Assert.Equal(["/entry", "default-cmd"], Launch(Box() with { Command = [] }).Argv);
    }

    [Fact]
    public void A_sealed_init_starts_as_root_with_only_the_capabilities_it_gives_up_and_hands_the_command_the_boxes_user()
    {
        var box = Box() with { Init = new SealedInit("/usr/local/sbin/sandbox-init", Undumpable: true) };
        var container = Spec(box).TaskTemplate.ContainerSpec;

        Assert.Equal("0:0", container.User);
        Assert.Equal(["ALL"], container.CapabilityDrop);
        Assert.Equal(SealedInit.Capabilities, container.CapabilityAdd);
        Assert.False(container.Init);
        Assert.Equal(["/usr/local/sbin/sandbox-init", "--user", "1000:1000", "--cwd", "/workspace", "--undumpable", "--", "codex", "exec"], Launch(box).Argv);
    }

    [Fact]
    public void A_folder_of_this_machine_or_an_oci_runtime_is_refused_saying_what_to_use_instead()
    {
        var folder = Assert.Throws<InvalidOperationException>(() => Spec(Box() with { Workspace = [new BoxMount.HostFolder("/home/me/repo", "/workspace", false)] }));
        var runtime = Assert.Throws<InvalidOperationException>(() => Spec(Box() with { Runtime = "runsc" }));

        Assert.Contains("transport: copy", folder.Message, StringComparison.Ordinal);
        Assert.Contains("runtime", runtime.Message, StringComparison.Ordinal);
    }
}
