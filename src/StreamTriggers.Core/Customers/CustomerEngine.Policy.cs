using StreamTriggers.Triggers;

namespace StreamTriggers.Customers;

public sealed partial class CustomerEngine
{
    private void Enqueue(CustomerState c, Candidate candidate)
    {
        if (!_step.TryGetValue(c.Key, out var list))
        {
            list = [];
            _step.Add(c.Key, list);
        }

        if (list.Count == 0)
        {
            _stepOrder.Add(c.Key);
        }

        list.Add(candidate);
    }

    private bool HasCandidates(CustomerState c) => _step.TryGetValue(c.Key, out var list) && list.Count > 0;

    private void FlushStep(List<Trigger> output, List<TriggerDecision> audit)
    {
        // In the order customers first had a candidate this step: deterministic for the same input. A customer may be
        // listed twice (a fact flushed it, then it had another candidate); the second flush finds nothing.
        if (_stepOrder.Count == 0)
        {
            return;
        }

        var order = _stepOrder.ToArray();
        _stepOrder.Clear();
        foreach (var key in order)
        {
            if (_customers.TryGetValue(key, out var c))
            {
                FlushCustomer(c, output, audit);
            }
            else
            {
                _step.Remove(key);
            }
        }
    }

    private void FlushCustomer(CustomerState c, List<Trigger> output, List<TriggerDecision> audit)
    {
        if (!_step.TryGetValue(c.Key, out var list) || list.Count == 0)
        {
            return;
        }

        var candidates = list.ToArray();
        _step.Remove(c.Key);

        // Highest priority first; the rest keep their order (due time, then arrival). A stable sort: LINQ's OrderBy.
        var ordered = candidates.Length == 1
            ? candidates
            : [.. candidates.OrderByDescending(x => _rank[(int)x.Trigger.Type]).ThenBy(x => x.DueMs)];

        Trigger? winner = null;
        foreach (var candidate in ordered)
        {
            var t = candidate.Trigger;
            int rank = _rank[(int)t.Type];
            bool sent = Decide(c, candidate, winner, output, audit);
            if (sent && rank > 0 && winner is null)
            {
                winner = t;
            }
        }

        MarkDirty(c);
        Reschedule(c);
    }

    // True when the trigger went out.
    private bool Decide(CustomerState c, Candidate candidate, Trigger? priorityWinner, List<Trigger> output, List<TriggerDecision> audit)
    {
        var t = candidate.Trigger;
        long at = candidate.DueMs;
        if (TriggerTypes.IsOperational(t.Type))
        {
            Emit(c, t, at, candidate.Released, output);
            return true;
        }

        if (c.Unsubscribed)
        {
            Suppress(c, t, DecisionReason.Consent, at, "the customer unsubscribed", audit);
            return false;
        }

        if (!candidate.Released && _quiet.Enabled)
        {
            var zone = ZoneOf(c);
            if (_quiet.Contains(at, zone))
            {
                long release = _quiet.ReleaseAt(at, zone);
                c.PendingList.Add(new PendingTrigger(t, release, Deferred: true));
                Counters.Deferred[(int)t.Type]++;
                Record(c, t, DecisionOutcome.Deferred, DecisionReason.QuietHours, at,
                    $"quiet hours in {zone.Id}; released at {Time.UnixTime.Format(release)}", audit, release);
                return false;
            }
        }

        if (priorityWinner is not null && _rank[(int)t.Type] > 0)
        {
            Suppress(c, t, DecisionReason.Priority, at, $"{TriggerTypes.Name(priorityWinner.Type)} {priorityWinner.Id} went out at the same time", audit);
            return false;
        }

        long window = _capMs[(int)t.Type];
        if (window > 0)
        {
            foreach (var member in _familyOf[(int)t.Type])
            {
                long last = c.LastSent(member);
                if (last != CustomerState.None && Math.Abs(at - last) < window)
                {
                    Suppress(c, t, DecisionReason.FrequencyCap, at,
                        $"{TriggerTypes.Name(member)} went out at {Time.UnixTime.Format(last)}, within the cap family's window", audit);
                    return false;
                }
            }
        }

        Emit(c, t, at, candidate.Released, output);
        return true;
    }

    private void Emit(CustomerState c, Trigger t, long at, bool released, List<Trigger> output)
    {
        t.DetectedAtMs = Math.Max(Math.Max(t.DetectedAtMs, _now), at);
        if (released)
        {
            t.ReleasedAtMs = at;
        }

        var segment = c.IsAnonymous ? Segments.Of(c, at, _segments) : c.Segment;
        t.Segment = Segments.Name(segment);
        t.LifetimeValue = Segments.LifetimeValue(c, at, _segments);
        c.SetLastSent(t.Type, at);
        Counters.Emitted[(int)t.Type]++;
        output.Add(t);
        Record(c, t, DecisionOutcome.Emitted, DecisionReason.None, at, null, audit: null);

        if (t.Type is TriggerType.CartAbandoned or TriggerType.CheckoutAbandoned or TriggerType.CartAbandonedReminder)
        {
            // What an order may still revoke; older entries can no longer be revoked.
            c.OutstandingList.RemoveAll(s => s.DeadlineMs < at - _lifecycle.RevokeMs);
            // A reminder is about the cart abandoned one reminder delay before it: an order since then makes it moot.
            long from = t.Type == TriggerType.CartAbandonedReminder ? t.DeadlineMs - _lifecycle.ReminderMs : t.DeadlineMs;
            c.OutstandingList.Add(new SentTrigger(t.Id, t.Type, from, t.DeadlineMs, t.SessionId));
        }

        if (t.Type == TriggerType.CartAbandoned && !c.IsAnonymous)
        {
            long due = t.DeadlineMs + _lifecycle.ReminderMs;
            c.PendingList.Add(new PendingTrigger(new Trigger
            {
                Id = TriggerId.Create(TriggerType.CartAbandonedReminder, t.Id, due),
                Type = TriggerType.CartAbandonedReminder,
                SessionId = t.SessionId,
                UserId = c.UserId ?? t.UserId,
                Email = c.Email ?? t.Email,
                DeadlineMs = due,
                LastActivityMs = t.LastActivityMs,
                PeriodStartMs = t.PeriodStartMs,
                PeriodEvents = t.PeriodEvents,
                Cart = t.Cart,
                CartValue = t.CartValue,
                Currency = t.Currency,
                ProductsViewed = t.ProductsViewed,
            }, due, Deferred: false));
        }
    }

    private void Suppress(CustomerState c, Trigger t, DecisionReason reason, long at, string detail, List<TriggerDecision> audit)
    {
        Counters.Suppressed[(int)t.Type * CustomerCounters.Reasons + (int)reason]++;
        Record(c, t, DecisionOutcome.Suppressed, reason, at, detail, audit);
    }

    private void Record(CustomerState c, Trigger t, DecisionOutcome outcome, DecisionReason reason, long at, string? detail,
        List<TriggerDecision>? audit, long? releaseAt = null)
    {
        var decision = new TriggerDecision(t.Id, t.Type, t.SessionId, t.DeadlineMs, Math.Max(_now, at), outcome,
            reason == DecisionReason.None ? null : TriggerDecision.ReasonName(reason), detail, c.Key, releaseAt);
        c.AddDecision(decision, _lifecycle.DecisionHistory);
        audit?.Add(decision);
    }
}
