using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// No task and no setup reaches the engine's API. Under <c>deny</c> and <c>none</c> a container reaches nothing
/// but the run's proxy; under <c>allow</c> it sits on the engine's bridge, whose gateway is the engine's host. Where
/// the engine answers there without credentials (plain TCP: the Docker-in-Docker CI job's
/// <c>tcp://docker:2375</c>), such a container could read every other run's proxy configuration and start
/// privileged containers, so <c>allow</c> for tasks and for setup is refused there before anything is created.
/// </summary>
public static class EngineApiGuard
{
    public static async Task CheckAsync(RunPlan plan, RunnerConfig config, ITaskBackend backend, CancellationToken cancellationToken)
    {
        var fields = new List<string>();
        if (config.NetworkPolicy == NetworkPolicy.Allow)
        {
            fields.Add("network_policy");
        }

        foreach (var task in plan.Tasks.Where(t => t.Environment is { Setup.Count: > 0, SetupNetwork: SetupNetwork.Allow }).DistinctBy(t => t.EnvironmentName))
        {
            fields.Add(task.EnvironmentName == RunnerConfig.DefaultEnvironment ? "environment.setup_network" : $"environments.{task.EnvironmentName}.setup_network");
        }

        // Only asked when something would run on the bridge: the probe may cost a TLS handshake.
        if (fields.Count == 0 || await backend.ExposedApiAsync(cancellationToken) is not { } reason)
        {
            return;
        }

        throw new InvalidInputException(RunnerConfig.FileName, fields.Select(field => new Problem(field, Rule(field, reason))).ToList());
    }

    internal static string Rule(string field, string reason)
    {
        var what = field == "network_policy" ? "a task" : "setup";
        var instead = field == "network_policy"
            ? "or set network_policy to \"deny\" (list the hosts tasks need in network_allowlist) or \"none\""
            : $"or set {field} to \"deny\" (setup then reaches only network_allowlist through the run's proxy)";
        return $"\"allow\" is refused on this engine: {reason}, and {what} under \"allow\" could reach it from the engine's bridge " +
            "(read other runs' proxy settings, start privileged containers); reach the engine over TLS with client certificates " +
            $"(DOCKER_HOST=tcp://HOST:2376, DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH holding ca.pem, cert.pem and key.pem), {instead}";
    }
}
