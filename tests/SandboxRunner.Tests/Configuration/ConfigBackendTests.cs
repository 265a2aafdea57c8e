using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Boxes.Swarm;
using SandboxRunner.Configuration;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Configuration;

/// <summary>The backend fields (issue 25): <c>backend</c>, <c>registry</c>, <c>max_tasks_per_node</c>, and what a swarm cannot do yet.</summary>
public sealed class ConfigBackendTests
{
    [Fact]
    public void Absent_the_backend_is_the_docker_engine_with_no_registry_and_no_per_node_cap()
    {
        var config = ConfigLoader.Parse("{}");

        Assert.Equal((BackendKind.Docker, null, null), (config.Backend, config.Registry, config.MaxTasksPerNode));
    }

    [Fact]
    public void A_swarm_with_its_registry_and_per_node_cap_is_read_as_written()
    {
        var config = ConfigLoader.Parse("""{ "backend": "swarm", "registry": "registry.example.com:5000", "max_tasks_per_node": 4, "network_policy": "allow" }""");

        Assert.Equal((BackendKind.Swarm, "registry.example.com:5000", 4), (config.Backend, config.Registry, config.MaxTasksPerNode));
        Assert.Empty(ConfigChecks.BeforeRun(config));
    }

    [Theory]
    [InlineData("backend", "\"kubernetes\"", "docker")]
    [InlineData("registry", "\"http://registry:5000\"", "host[:port]")]
    [InlineData("registry", "\"registry:5000/path\"", "host[:port]")]
    [InlineData("registry", "\"\"", "host[:port]")]
    [InlineData("max_tasks_per_node", "0", "1")]
    [InlineData("max_tasks_per_node", "65", "64")]
    [InlineData("max_tasks_per_node", "\"4\"", "")]
    public void A_value_outside_its_rule_is_refused_naming_the_field_and_the_rule(string field, string value, string rule)
    {
        var problem = Config.OnlyProblem(field, value);

        Assert.Equal(field, problem.Field);
        Assert.Contains(rule, problem.Rule, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "registry": "localhost:5000" }""", "registry")]
    [InlineData("""{ "max_tasks_per_node": 2 }""", "max_tasks_per_node")]
    public void The_swarm_fields_without_a_swarm_are_a_problem_before_a_run(string json, string field)
    {
        var problem = Assert.Single(ConfigChecks.BeforeRun(ConfigLoader.Parse(json)));

        Assert.Equal(field, problem.Field);
        Assert.Contains("backend swarm", problem.Rule, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "backend": "swarm" }""")]
    [InlineData("""{ "backend": "swarm", "network_policy": "deny", "network_allowlist": ["registry.npmjs.org"] }""")]
    public void Deny_with_a_swarm_is_no_problem_its_proxy_runs_as_a_service_of_the_run(string json) =>
        Assert.Empty(ConfigChecks.BeforeRun(ConfigLoader.Parse(json)));

    [Theory]
    [InlineData("""{ "backend": "swarm", "network_policy": "none", "runtime": "runsc" }""", "runtime")]
    [InlineData("""{ "backend": "swarm", "registry": "localhost:5000", "environment": { "base_image": "node:20", "runtime": "runsc" } }""", "environment.runtime")]
    [InlineData("""{ "backend": "swarm", "registry": "localhost:5000", "environments": { "py": { "base_image": "python:3.12", "runtime": "runsc" } } }""", "environments.py.runtime")]
    public void What_the_swarm_backend_cannot_do_is_refused_before_a_run_naming_the_field(string json, string field)
    {
        var problem = Assert.Single(ConfigChecks.BeforeRun(ConfigLoader.Parse(json)));

        Assert.Equal(field, problem.Field);
        Assert.Contains("backend swarm", problem.Rule, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "backend": "swarm", "environment": { "base_image": "node:20" } }""", "environment needs a registry")]
    [InlineData("""{ "backend": "swarm", "environments": { "py": { "base_image": "python:3.12" } } }""", "environments.py needs a registry")]
    public void An_environment_on_a_swarm_without_a_registry_is_refused_naming_the_registry_field(string json, string rule)
    {
        var problem = Assert.Single(ConfigChecks.BeforeRun(ConfigLoader.Parse(json)));

        Assert.Equal("registry", problem.Field);
        Assert.Contains(rule, problem.Rule, StringComparison.Ordinal);
        Assert.Contains("set registry", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void An_environment_on_a_swarm_with_a_registry_is_no_problem() =>
        Assert.Empty(ConfigChecks.BeforeRun(ConfigLoader.Parse(
            """{ "backend": "swarm", "registry": "localhost:5000", "environment": { "base_image": "node:20", "setup": ["npm ci"], "setup_network": "deny" } }""")));

    [Fact]
    public async Task The_factory_makes_the_backend_the_config_names_with_its_swarm_options()
    {
        var config = ConfigLoader.Parse("""{ "backend": "swarm", "registry": "localhost:5000", "max_tasks_per_node": 3 }""");

        await using var swarm = BackendFactory.CreateBackend(config, new EngineConnection(new Uri("unix:///nonexistent.sock")), NullLoggerFactory.Instance);
        await using var docker = BackendFactory.CreateBackend(RunnerConfig.Default, new EngineConnection(new Uri("unix:///nonexistent.sock")), NullLoggerFactory.Instance);

        Assert.Equal(new SwarmOptions("localhost:5000", 3, SwarmOptions.DefaultWarmBoxes), Assert.IsType<SwarmBackend>(swarm).Options);
        Assert.Equal(("swarm", "docker"), (swarm.Name, docker.Name));
    }
}
