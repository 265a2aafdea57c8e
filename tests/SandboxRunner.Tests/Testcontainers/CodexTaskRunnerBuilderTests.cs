using DotNet.Testcontainers.Containers;
using SandboxRunner.Configuration;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Testcontainers;

namespace SandboxRunner.Tests.Testcontainers;

/// <summary>The builder is immutable like Testcontainers' own and refuses a bad configuration at Build, every problem at once.</summary>
public sealed class CodexTaskRunnerBuilderTests
{
    [Fact]
    public void Each_with_call_returns_a_new_builder_and_leaves_the_first_as_it_was()
    {
        var folder = Path.GetTempPath();
        var plain = new CodexTaskRunnerBuilder().WithRepository(folder);
        var scripted = plain.WithScriptedModel().WithVerify("sh test.sh").WithEnvironment("node").WithNetworkPolicy(NetworkPolicy.None);

        Assert.Equal(ModelSource.Repository, plain.Build().Configuration.Model);
        var configuration = scripted.Build().Configuration;
        Assert.Equal((ModelSource.Scripted, "node", NetworkPolicy.None), (configuration.Model, configuration.Environment, configuration.NetworkPolicy));
        Assert.Equal(["sh test.sh"], configuration.Verify);
    }

    [Fact]
    public void A_builder_without_a_repository_a_blank_key_and_a_reserved_label_is_refused_naming_each_method()
    {
        var error = Assert.Throws<ArgumentException>(() => new CodexTaskRunnerBuilder()
            .WithModelKey(" ")
            .WithVerify("")
            .WithLabel("org.testcontainers.session-id", "x")
            .WithLabel("sandbox-runner.run", "x")
            .Build());

        Assert.Contains("5 problem(s)", error.Message, StringComparison.Ordinal);
        foreach (var method in new[] { "WithRepository: required", "WithModelKey:", "WithVerify:", "'org.testcontainers.session-id' is reserved", "'sandbox-runner.run' is reserved" })
        {
            Assert.Contains(method, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_printed_configuration_says_a_model_key_is_set_without_showing_it()
    {
        var printed = new CodexTaskRunnerBuilder().WithRepository(Path.GetTempPath()).WithModelKey("sk-secret-123").Build().Configuration.ToString();

        Assert.DoesNotContain("sk-secret-123", printed, StringComparison.Ordinal);
        Assert.Contains("ModelKey = (set)", printed, StringComparison.Ordinal);
    }

    [Fact]
    public void A_repository_folder_that_does_not_exist_is_refused_at_build() =>
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() => new CodexTaskRunnerBuilder().WithRepository("/nonexistent/fixture").Build()).Message, StringComparison.Ordinal);

    [Fact]
    public void A_runner_labels_its_resources_with_the_testcontainers_session_its_own_instance_and_the_test_process()
    {
        var first = new CodexTaskRunnerBuilder().WithRepository(Path.GetTempPath()).Build();
        var second = new CodexTaskRunnerBuilder().WithRepository(Path.GetTempPath()).Build();

        var session = ResourceReaper.DefaultSessionId.ToString("D");
        Assert.Equal(session, first.Labels[ResourceReaper.ResourceReaperSessionLabel]);
        Assert.Equal(session, first.Labels["org.testcontainers.session-id"]);
        Assert.Equal("true", first.Labels["org.testcontainers"]);
        Assert.Equal(Labels.CurrentOwner, first.Labels[SessionLabels.Owner]);
        Assert.NotEqual(first.Labels[SessionLabels.Instance], second.Labels[SessionLabels.Instance]);
    }

    [Fact]
    public void The_session_of_an_unstarted_runner_says_to_start_it_first() =>
        Assert.Contains("StartAsync", Assert.Throws<InvalidOperationException>(() => new CodexTaskRunnerBuilder().WithRepository(Path.GetTempPath()).Build().Session).Message, StringComparison.Ordinal);
}
