"""Visual Wake Words tools: the person / no-person dataset rule and labelled-folder evaluation."""
