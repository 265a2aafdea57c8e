using SandboxRunner.Configuration;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// The OCI runtime each task's containers start with (its environment's <c>runtime</c>, else the config's, else the
/// engine's default), checked against the engine's list before a run creates anything: a runtime the engine lacks is
/// refused with how to install and register it, instead of failing every task container at its start.
/// </summary>
public static class RuntimeCheck
{
    /// <summary>
    /// The arguments Docker is told to start gVisor with: gVisor's own network stack refuses Docker's namespaces on newer
    /// kernels, and newer runsc keep root-filesystem writes in an overlay the engine cannot read (see docs/gvisor.md).
    /// </summary>
    public const string GvisorArguments = "[\"--network=host\", \"--overlay2=none\"]";

    /// <summary>The runtime <paramref name="task"/> names in the config (its environment's, else the top level's); null for the engine's default.</summary>
    public static string? Configured(TaskPlan task, RunnerConfig config) => task.Environment?.Runtime ?? config.Runtime;

    /// <summary>
    /// <paramref name="plan"/> with every task's <see cref="TaskPlan.Runtime"/> resolved to a runtime the engine has; throws
    /// <see cref="InvalidInputException"/> naming each config field whose runtime it lacks, or that would cut a task off the
    /// network its policy gives it.
    /// </summary>
    public static async Task<RunPlan> ResolveAsync(RunPlan plan, RunnerConfig config, ITaskBackend backend, CancellationToken cancellationToken)
    {
        EngineRuntimes runtimes;
        try
        {
            runtimes = (await backend.DescribeAsync(cancellationToken)).Runtimes;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new InvalidInputException(ImageProvisioner.EngineSource, "(engine)", $"Docker is not reachable ({e.Message}); start the engine (bash .ci/setup does) or set DOCKER_HOST");
        }

        if (!backend.Capabilities.Runtimes)
        {
            // A platform whose boxes cannot name a runtime (a swarm service) runs each under its node's default, which the
            // manager's list does not tell; the config may not name one there (ConfigChecks), and the result says none.
            return plan;
        }

        var problems = plan.Tasks
            .Select(t => (Field: FieldOf(t), Name: Configured(t, config), InEnvironment: t.Environment is not null))
            .Distinct()
            .SelectMany(named => Problems(named.Name, runtimes, config.NetworkPolicy, named.InEnvironment).Select(p => new Problem(named.Field, $"{p.Detail}; {p.Fix}")))
            .ToList();
        if (problems.Count > 0)
        {
            throw new InvalidInputException(RunnerConfig.FileName, problems);
        }

        return plan with { Tasks = plan.Tasks.Select(t => t with { Runtime = Configured(t, config) ?? runtimes.Default }).ToList() };
    }

    /// <summary>
    /// What is wrong with running a task under <paramref name="name"/> (null: the engine's default) on this engine: nothing,
    /// or one problem and its fix. <paramref name="inEnvironment"/>: the task (and its setup) writes its checkout into the
    /// container's root filesystem, which the engine must be able to read back.
    /// </summary>
    public static IEnumerable<(string Detail, string Fix)> Problems(string? name, EngineRuntimes runtimes, NetworkPolicy policy, bool inEnvironment)
    {
        if (runtimes.Find(name) is not { } runtime)
        {
            var missing = name ?? runtimes.Default;
            yield return ($"'{missing}' is not a runtime of the Docker engine (it lists {string.Join(", ", runtimes.Available.Keys.Order(StringComparer.Ordinal))})", Fix(missing));
        }
        else if (policy != NetworkPolicy.None && runtime.Arguments.Contains("--network=none"))
        {
            yield return (
                $"'{runtime.Name}' is registered with --network=none, so tasks under it have no network, but network_policy is {ConfigLoader.NetworkPolicies.First(p => p.Value == policy).Key}",
                $"name a runtime registered with {GvisorArguments} as its runtimeArgs, or set network_policy \"none\"");
        }
        else if (inEnvironment && IsGvisor(runtime) && !runtime.Arguments.Contains("--overlay2=none"))
        {
            yield return (
                $"'{runtime.Name}' is gVisor registered without --overlay2=none: newer runsc keep what a container writes to its root filesystem in an overlay of their own, where the engine cannot read it, and an environment task's checkout is there (its work would be lost)",
                $"register it with {GvisorArguments} as its runtimeArgs and send dockerd SIGHUP (bash .ci/setup-gvisor does; see docs/gvisor.md)");
        }
    }

    /// <summary>Whether the engine starts <paramref name="runtime"/> with gVisor's runsc.</summary>
    public static bool IsGvisor(EngineRuntime runtime) =>
        Path.GetFileName(runtime.Path ?? runtime.Name) == "runsc" || runtime.Name.StartsWith("runsc", StringComparison.Ordinal);

    /// <summary>How to make <paramref name="name"/> a runtime of the engine.</summary>
    public static string Fix(string name) => name.StartsWith("runsc", StringComparison.Ordinal) || name.Contains("gvisor", StringComparison.OrdinalIgnoreCase)
        ? $"on the engine's machine install gVisor's runsc and register it: add \"{name}\": {{\"path\": \"/usr/bin/runsc\", \"runtimeArgs\": {GvisorArguments}}} under \"runtimes\" in /etc/docker/daemon.json and send dockerd SIGHUP, no restart needed (bash .ci/setup-gvisor does both, with Debian's runsc 0.0~20240729; see docs/gvisor.md), or remove \"runtime\" from {RunnerConfig.FileName}"
        : $"register it under \"runtimes\" in the engine's /etc/docker/daemon.json and send dockerd SIGHUP, or name a runtime the engine lists";

    /// <summary>The config field that chose <paramref name="task"/>'s runtime.</summary>
    private static string FieldOf(TaskPlan task) => task.Environment?.Runtime is null ? "runtime"
        : task.EnvironmentName == RunnerConfig.DefaultEnvironment ? "environment.runtime"
        : $"environments.{task.EnvironmentName}.runtime";
}
