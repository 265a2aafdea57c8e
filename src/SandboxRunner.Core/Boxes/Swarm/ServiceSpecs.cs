using Docker.DotNet.Models;
using SandboxRunner.Boxes.Docker;
using ContainerSpec = SandboxRunner.Boxes.Docker.ContainerSpec;

namespace SandboxRunner.Boxes.Swarm;

/// <summary>
/// A <see cref="BoxSpec"/> in swarm's shape: a <c>replicated-job</c> service of one task that never restarts, with the
/// local box's hardening wherever the service API can say it (see docs/swarm.md, "Hardening"). The container's
/// hardening comes from <see cref="ContainerSpec.ForBox"/>, the one place the local backend decides it, so both say the
/// same; what the service API of 1.41 cannot say is compensated in the box's first command (<see cref="Gate"/>).
/// </summary>
internal static class ServiceSpecs
{
    /// <summary>The gate's <c>$0</c>: what names a command as the runner's gate (also in an image committed from a box).</summary>
    public const string GateName = "sandbox-runner-gate";

    /// <summary>Set by the last line of the gate's task text (<see cref="SwarmGate.Script"/>): the gate runs nothing unless the whole text arrived.</summary>
    public const string ReadyVariable = "sandbox_runner_gate";

    /// <summary>
    /// The box's first command. Swarm starts a task's container as soon as it is placed (and a warm box long before
    /// its task exists), but a box's workspace must be filled before its command starts: the command blocks on its
    /// standard input (no polling: a warm box costs nothing while it waits) until the runner writes the task's
    /// environment, working folder and argv there (<see cref="SwarmGate.Message"/>; the runner wrote every byte, so it
    /// is trusted shell: <see cref="SwarmGate"/> quotes every value), then runs under <c>setpriv --no-new-privs</c>
    /// because the service API before 1.46 cannot set no-new-privileges (a setuid binary in the image would otherwise
    /// still change uid), with its standard input closed, as a local container's is. An image without setpriv is
    /// refused, not run without it.
    /// </summary>
    public const string Gate =
        "IFS= read -r n || exit 126; case $n in ''|*[!0-9]*) exit 126;; esac; " +
        $"eval \"$(head -c \"$n\")\" && [ \"${{{ReadyVariable}:-}}\" = ready ] || exit 126; unset {ReadyVariable}; " +
        "if [ -x /usr/bin/setpriv ]; then exec /usr/bin/setpriv --no-new-privs \"$@\" </dev/null; fi; " +
        "echo 'sandbox-runner: this image has no /usr/bin/setpriv (util-linux), which a swarm box needs to run with no new privileges' >&2; exit 126";

    /// <summary>The image's own entrypoint and command, which a service's command replaces, so the gate can run them; its runner role label, if any.</summary>
    public sealed record ImageDefaults(IReadOnlyList<string> Entrypoint, IReadOnlyList<string> Command, string? Role = null);

    /// <summary>What the box's gate runs: the argv (entrypoint and command), folder and environment a local container would have.</summary>
    public static SwarmGate.Launch LaunchOf(BoxSpec box, ImageDefaults defaults)
    {
        var docker = ContainerSpec.ForBox(box, new Dictionary<string, string>(), "none");
        var entrypoint = docker.Entrypoint ?? defaults.Entrypoint;
        var command = docker.Command.Count > 0 || docker.Entrypoint is not null ? docker.Command : defaults.Command;
        return new SwarmGate.Launch([.. entrypoint, .. command], docker.WorkingDirectory, docker.Environment);
    }

    /// <summary>
    /// The service of a box of <paramref name="box"/>'s shape. Nothing of the task is in it (its environment, argv and
    /// labels' run and task come from <paramref name="labels"/> and the gate's task file), so the same spec serves a
    /// cold box made for the task and a warm one made ahead (<paramref name="warm"/>: a <c>replicated</c> service of one
    /// replica that never restarts, since any update of a job, even of its labels alone, starts a new job iteration).
    /// </summary>
    /// <param name="dns">The box's resolvers (an allowlist site's <see cref="SwarmEgress.BoxDns"/>); null for the node's.</param>
    public static ServiceSpec For(
        BoxSpec box,
        string name,
        string image,
        ImageDefaults defaults,
        IReadOnlyDictionary<string, string> labels,
        IReadOnlyList<string> networks,
        IReadOnlyList<string> constraints,
        DNSConfig? dns = null,
        bool warm = false)
    {
        if (box.Workspace.OfType<BoxMount.HostFolder>().FirstOrDefault() is { } folder)
        {
            throw new InvalidOperationException(
                $"a swarm box cannot mount {folder.Source} of this machine (its node has its own files); the copy transport fills its workspace instead (transport: copy)");
        }

        if (box.Runtime is { } runtime)
        {
            throw new InvalidOperationException(
                $"a swarm service cannot name the OCI runtime '{runtime}' (the service API has no runtime field for containers); leave `runtime` unset with `backend: swarm`");
        }

        var docker = ContainerSpec.ForBox(box, labels, "none");
        var mounts = new List<Mount>
        {
            new() { Type = "tmpfs", Target = "/tmp", TmpfsOptions = new TmpfsOptions { SizeBytes = box.Limits.TmpBytes, Mode = 0b1_111_111_111 } },
        };
        mounts.AddRange(docker.Volumes.Select(target => new Mount { Type = "volume", Target = target }));

        return new ServiceSpec
        {
            Name = name,
            Labels = new Dictionary<string, string>(labels),
            Mode = warm
                ? new ServiceMode { Replicated = new ReplicatedService { Replicas = 1 } }
                : new ServiceMode { ReplicatedJob = new ReplicatedJob { MaxConcurrent = 1, TotalCompletions = 1 } },
            TaskTemplate = new TaskSpec
            {
                ContainerSpec = new global::Docker.DotNet.Models.ContainerSpec
                {
                    Image = image,
                    Command = ["/bin/sh", "-c", Gate, GateName],
                    // The gate's standard input: the runner's go-ahead and the task's text (never closed: a service has no StdinOnce).
                    OpenStdin = true,
                    // No Args, no Env: the task's argv and environment reach the gate through its standard input alone. The
                    // folder is the shape's (the engine makes it at start, as locally; the gate also enters it).
                    User = docker.User,
                    Dir = docker.WorkingDirectory,
                    Labels = new Dictionary<string, string>(labels),
                    Init = docker.Init,
                    ReadOnly = docker.ReadOnlyRootFilesystem,
                    CapabilityDrop = ["ALL"],
                    CapabilityAdd = docker.CapAdd.ToList(),
                    // Honoured from API 1.46; the gate's setpriv is what holds on older engines.
                    Privileges = new Privileges { NoNewPrivileges = true },
                    Mounts = mounts,
                    StopGracePeriod = TimeSpan.Zero,
                    DNSConfig = dns!,
                },
                Resources = new ResourceRequirements
                {
                    Limits = new SwarmLimit { MemoryBytes = box.Limits.MemoryBytes, NanoCPUs = (long)(box.Limits.Cpus * 1_000_000_000), Pids = box.Limits.Pids },
                },
                RestartPolicy = new SwarmRestartPolicy { Condition = "none", MaxAttempts = 0 },
                Placement = new Placement { Constraints = constraints.ToList() },
                Networks = networks.Select(n => new NetworkAttachmentConfig { Target = n }).ToList(),
                LogDriver = box.MaxLogBytes is { } logBytes
                    ? new SwarmDriver
                    {
                        Name = "json-file",
                        Options = new Dictionary<string, string> { ["max-size"] = logBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), ["max-file"] = "2" },
                    }
                    : null!,
            },
        };
    }
}
